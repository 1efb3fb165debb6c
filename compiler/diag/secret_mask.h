#pragma once

#include <span>
#include <string>
#include <vector>

#include "compiler/diag/diagnostic.h"

namespace mig::diag {

/// Where the secret literals are: the ranges of every `secret-literal`
/// diagnostic. A printer that shows or hashes source text masks them, so
/// that reporting a password never prints it (even when `--max-errors`
/// left that diagnostic out).
class SecretMask {
 public:
  explicit SecretMask(std::span<const Diagnostic> all);

  /// Whether the byte at `offset` of `file` lies in a secret literal.
  bool covers(source::FileId file, uint32_t offset) const;

  /// The bytes [begin, end) of `file` with every byte of a secret literal
  /// but its quotes replaced by '*'; one '*' per code point, so columns
  /// stay right.
  std::string apply(const source::SourceManager& sources, source::FileId file, uint32_t begin,
                    uint32_t end) const;

 private:
  std::vector<source::Range> secrets_;  ///< sorted by file, then begin
};

}  // namespace mig::diag
