#include "compiler/diag/secret_mask.h"

#include <algorithm>
#include <tuple>

namespace mig::diag {

SecretMask::SecretMask(std::span<const Diagnostic> all) {
  for (const Diagnostic& d : all) {
    if (d.rule == Rule::SecretLiteral && d.range.valid()) secrets_.push_back(d.range);
  }
  std::sort(secrets_.begin(), secrets_.end(), [](const source::Range& a, const source::Range& b) {
    return std::tie(a.file, a.begin, a.end) < std::tie(b.file, b.begin, b.end);
  });
}

bool SecretMask::covers(source::FileId file, uint32_t offset) const {
  // The last secret that starts at or before `offset` (secret literals
  // are single strings: they never overlap).
  auto after =
      std::upper_bound(secrets_.begin(), secrets_.end(), std::pair(file, offset),
                       [](const std::pair<source::FileId, uint32_t>& at, const source::Range& r) {
                         return std::tie(at.first, at.second) < std::tie(r.file, r.begin);
                       });
  if (after == secrets_.begin()) return false;
  const source::Range& secret = *std::prev(after);
  return secret.file == file && offset < secret.end;
}

std::string SecretMask::apply(const source::SourceManager& sources, source::FileId file,
                              uint32_t begin, uint32_t end) const {
  std::string_view text = sources.text(file);
  std::string out;
  out.reserve(end - begin);
  for (uint32_t i = begin; i < end; ++i) {
    char c = text[i];
    if (c == '"' || !covers(file, i)) {
      out += c;
      continue;
    }
    // One '*' for the code point that starts here; its other bytes go.
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) out += '*';
  }
  return out;
}

}  // namespace mig::diag
