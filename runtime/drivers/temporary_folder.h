#pragma once

#include <string>
#include <utility>

#include "runtime/drivers/result.h"

namespace mig::drivers {

/// A private (0700) folder under $TMPDIR, removed with what it holds when
/// the object goes.
class TemporaryFolder {
 public:
  /// `prefix` starts the folder's name ("mig-restore").
  static Result<TemporaryFolder> create(const std::string& prefix);
  TemporaryFolder(TemporaryFolder&& other) noexcept : path_(std::exchange(other.path_, "")) {}
  TemporaryFolder& operator=(TemporaryFolder&&) = delete;
  TemporaryFolder(const TemporaryFolder&) = delete;
  ~TemporaryFolder();

  const std::string& path() const { return path_; }
  /// Writes `text` to the file `name` in the folder; its path, or an error.
  Result<std::string> write(const std::string& name, const std::string& text) const;

 private:
  explicit TemporaryFolder(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace mig::drivers
