#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mig::runtime {

/// The log file of one process: its (redacted) output, written as it arrives, created at the
/// first byte with mode 0600 (a file that exists is truncated).
///
/// With a limit, output beyond it is cut out of the middle: the log keeps the first half of the
/// limit and the last half, with one marker line between them that says how many bytes were
/// left out. Up to the limit the file grows as output arrives. Past it, the file stops growing
/// and the output's latest half-limit of bytes is kept in memory (allocated then, once: the
/// bytes of the second half already written are read back from the file); finish() cuts the file
/// after the first half and appends the marker and that tail.
///
/// When the file cannot be created or written (a full disk), error() says why and nothing more
/// is written to it: a log with a hole in it would look whole. The log is then incomplete.
class StepLog {
 public:
  /// `limit`: bytes of output kept; 0 keeps everything.
  StepLog(std::string path, uint64_t limit);
  ~StepLog();
  StepLog(const StepLog&) = delete;
  StepLog& operator=(const StepLog&) = delete;

  void append(std::string_view text);
  /// The output ended: writes what the limit kept back, and closes the file.
  void finish();

  /// Empty, or what failed and why ("cannot write 'PATH': No space left on device").
  const std::string& error() const { return error_; }
  /// Bytes of output left out of the middle because of the limit (known once finished).
  uint64_t omittedBytes() const { return omitted_; }

 private:
  bool open();
  void write(std::string_view text);
  void startTail();
  void keepInTail(std::string_view text);
  void close();

  std::string path_;
  uint64_t headLimit_;  ///< bytes kept from the start
  uint64_t tailLimit_;  ///< bytes kept from the end
  bool limited_;        ///< a limit, and a regular file to apply it to
  int fd_ = -1;
  uint64_t received_ = 0;  ///< bytes of output so far
  uint64_t written_ = 0;   ///< bytes in the file so far
  bool headEndsLine_ = true;
  std::string tail_;      ///< past the limit: the latest bytes, a ring of tailLimit_ bytes
  size_t tailStart_ = 0;  ///< where the oldest byte of tail_ is
  uint64_t omitted_ = 0;
  std::string error_;
};

/// `bytes` with a comma between thousands: 1,234,567.
std::string withThousandsSeparators(uint64_t bytes);

}  // namespace mig::runtime
