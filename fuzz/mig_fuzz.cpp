// libFuzzer entry point: parse + check + fmt on arbitrary bytes
// (scripts/fuzz.sh builds and runs it).
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "fuzz/check_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string broken =
      mig::fuzz::checkInput(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!broken.empty()) {
    std::fprintf(stderr, "mig_fuzz: %s\n", broken.c_str());
    std::abort();
  }
  return 0;
}
