#pragma once

#include <string>

#include "compiler/diag/rules.h"
#include "compiler/sema/model.h"
#include "compiler/source/source_manager.h"

/// What hover shows about actions and kinds (the stdlib's and local
/// modules') and about lint rules, as Markdown. Doc comments are read as
/// `mig explain kind` reads them (sema::commentAbove).
namespace mig::cli::lsp {

/// The `#` comment block right above the line holding `offset` (a
/// declaration's first character); "" when there is none.
std::string docComment(const source::SourceManager& sources, source::FileId file, uint32_t offset);

/// `postgres.copy(from: postgres, to: postgres, owners: one_of(keep, reassign) = keep)`
std::string actionSignature(const source::SourceManager& sources, const sema::Action& action);

std::string actionMarkdown(const source::SourceManager& sources, const sema::Action& action);
std::string kindMarkdown(const source::SourceManager& sources, const sema::EndpointKind& kind);
std::string ruleMarkdown(const diag::RuleInfo& rule);

}  // namespace mig::cli::lsp
