#pragma once

#include <span>
#include <string_view>

namespace mig::stdlib {

/// A stdlib module compiled into the binary.
struct EmbeddedModule {
  std::string_view importPath;  ///< "std/postgres"
  std::string_view text;
};

/// Every module under stdlib/std, as it was at build time.
std::span<const EmbeddedModule> embeddedModules();

}  // namespace mig::stdlib
