#pragma once

#include <string>

#include "compiler/ast/ast.h"
#include "compiler/source/source_manager.h"

namespace mig::format {

/// The canonical layout of a parsed file (which must have parsed cleanly):
/// two-space indentation; within a block, attribute values aligned one
/// column after the longest attribute name of their run (a run ends at a
/// blank line or a block), and repeated attributes (`allow`, shorthand
/// `step`s) aligned column by column; one blank line between multi-line
/// blocks, at most one anywhere else, none after `{` or before `}`;
/// comments kept where they were, trailing comments of a run aligned.
/// Strings and numbers keep their spelling; calls and lists stay on one
/// line unless written over several. Formatting its own output changes
/// nothing.
std::string formatFile(const source::SourceManager& sources, const ast::File& file);

}  // namespace mig::format
