#pragma once

#include <string>

#include "compiler/diag/rules.h"
#include "compiler/sema/model.h"
#include "compiler/source/source_manager.h"

/// What hover shows about the stdlib's actions and kinds and about lint
/// rules, as Markdown. The doc comments are read here from the `#` lines
/// above a declaration; compiler/sema/reference (the model `mig explain
/// kind` uses) is to replace that lookup, behind docComment().
namespace mig::cli::lsp {

/// The `#` comment block right above the line holding `offset` (a
/// declaration's first character), without its `# `, lines joined by '\n';
/// "" when there is none.
std::string docComment(const source::SourceManager& sources, source::FileId file, uint32_t offset);

/// `postgres.copy(from: postgres, to: postgres, owners: one_of(keep, reassign) = keep)`
std::string actionSignature(const source::SourceManager& sources, const sema::Action& action);

std::string actionMarkdown(const source::SourceManager& sources, const sema::Action& action);
std::string kindMarkdown(const source::SourceManager& sources, const sema::EndpointKind& kind);
std::string ruleMarkdown(const diag::RuleInfo& rule);

}  // namespace mig::cli::lsp
