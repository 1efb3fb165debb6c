#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

/// How the PostgreSQL drivers fail: a value or an error message, never an
/// exception. Messages are written for the operator and never hold a
/// password.
namespace mig::drivers {

struct Error {
  std::string message;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT: implicit, like std::optional
  Result(Error error) : state_(std::move(error)) {}  // NOLINT

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& operator*() {
    assert(ok());
    return std::get<0>(state_);
  }
  const T& operator*() const {
    assert(ok());
    return std::get<0>(state_);
  }
  T* operator->() { return &**this; }
  const T* operator->() const { return &**this; }

  /// The message of a failed result.
  const std::string& error() const {
    assert(!ok());
    return std::get<1>(state_).message;
  }

 private:
  std::variant<T, Error> state_;
};

/// A result without a value: success, or why not.
using Status = Result<std::monostate>;

inline Status success() {
  return std::monostate{};
}

}  // namespace mig::drivers
