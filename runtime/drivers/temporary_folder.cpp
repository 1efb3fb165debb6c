#include "runtime/drivers/temporary_folder.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace mig::drivers {

Result<TemporaryFolder> TemporaryFolder::create(const std::string& prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return Error{fmt::format("cannot create a temporary folder: {}", std::strerror(errno))};
  }
  return TemporaryFolder(pattern);
}

TemporaryFolder::~TemporaryFolder() {
  std::error_code ignored;
  if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
}

Result<std::string> TemporaryFolder::write(const std::string& name, const std::string& text) const {
  std::string path = path_ + "/" + name;
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) return Error{fmt::format("cannot write {}", path)};
  return path;
}

}  // namespace mig::drivers
