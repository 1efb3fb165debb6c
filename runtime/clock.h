#pragma once

#include <chrono>
#include <thread>

#include "compiler/window/window.h"

namespace mig::runtime {

using Instant = window::Instant;
using Milliseconds = std::chrono::milliseconds;

/// Where the runtime gets the time: the system clock, or a fake one that
/// tests move by hand (windows, delays and timeouts without sleeping).
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Instant now() const = 0;
  /// Returns at `until` (at once when it has passed).
  virtual void sleepUntil(Instant until) = 0;
};

class SystemClock : public Clock {
 public:
  Instant now() const override {
    return std::chrono::time_point_cast<Milliseconds>(std::chrono::system_clock::now());
  }
  void sleepUntil(Instant until) override { std::this_thread::sleep_until(until); }
};

class FakeClock : public Clock {
 public:
  explicit FakeClock(Instant start) : now_(start) {}
  Instant now() const override { return now_; }
  void sleepUntil(Instant until) override {
    if (until > now_) now_ = until;
  }
  void set(Instant t) { now_ = t; }
  void advance(Milliseconds by) { now_ += by; }

 private:
  Instant now_;
};

/// Milliseconds since the Unix epoch: how instants are stored.
inline int64_t toEpochMs(Instant t) { return t.time_since_epoch().count(); }
inline Instant fromEpochMs(int64_t ms) { return Instant(Milliseconds(ms)); }

}  // namespace mig::runtime
