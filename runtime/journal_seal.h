#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace mig::runtime {

/// A small file beside the journal (`state.db-seal`) that records which
/// journal it belongs to and how many transactions that journal had
/// committed. SQLite recovers from a damaged write-ahead log by dropping
/// the frames after the damage, and takes an emptied file for a new
/// database: both look like a journal where less happened. The seal lets
/// the journal see that it lost what it had, and say so, rather than read
/// it as "nothing happened".
///
/// The seal is written after each commit, with a count already committed,
/// so it never runs ahead of a healthy journal: a writer killed between
/// its commit and the seal leaves the seal behind, never ahead.
class JournalSeal {
 public:
  /// What the seal file says.
  struct Contents {
    std::string journalId;
    int64_t commits = 0;
  };

  explicit JournalSeal(std::string path) : path_(std::move(path)) {}
  ~JournalSeal();
  JournalSeal(const JournalSeal&) = delete;
  JournalSeal& operator=(const JournalSeal&) = delete;

  const std::string& path() const { return path_; }

  /// nullopt when there is no seal yet; `error` set (and nullopt) when it
  /// cannot be read or is not a seal.
  std::optional<Contents> read(std::string& error) const;
  /// The journal the next writes are for.
  void setJournalId(std::string journalId) { journalId_ = std::move(journalId); }
  /// Records `commits` for the journal. A failure is not fatal: the journal
  /// itself is fine, only the check at the next open is weaker.
  bool write(int64_t commits, std::string& error);

 private:
  std::string path_;
  std::string journalId_;
  int fd_ = -1;  ///< opened at the first write, kept for the next ones
};

}  // namespace mig::runtime
