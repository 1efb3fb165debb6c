// pgbouncer-pause, pgbouncer-resume and pgbouncer-point: a switchover behind
// PgBouncer. Its admin console holds a pool's new transactions (PAUSE) and
// lets them go (RESUME); pointing the pool at another database means
// rewriting its [databases] entry in the configuration file and RELOAD,
// since the console cannot change an entry.
#include <fcntl.h>
#include <fmt/format.h>
#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/drivers/driver.h"
#include "runtime/drivers/pg_client.h"
#include "runtime/drivers/text.h"

namespace mig::drivers {
namespace {

using std::chrono::milliseconds;

/// The console's commands take a pool's name as a bare word.
bool plainPoolName(const std::string& pool, std::string_view driver, std::ostream& err) {
  bool plain = !pool.empty() && std::all_of(pool.begin(), pool.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '-' || c == '.';
  });
  if (!plain) {
    err << driver << ": pool '" << pool
        << "' is not a name the admin console takes (letters, digits, _ - .)\n";
  }
  return plain;
}

Result<std::unique_ptr<pg::Connection>> openConsole(const std::string& url) {
  return pg::Connection::open(url, "the pooler's admin console", /*serverSettings=*/false);
}

/// Whether the console said that the pool is not paused: RESUME then has
/// nothing to do.
bool notPaused(const std::string& message) {
  return message.find("not paused") != std::string::npos;
}

/// "key=value key='quoted value'" of a [databases] entry, in order.
using Entry = std::vector<std::pair<std::string, std::string>>;

Result<Entry> parseEntry(std::string_view text) {
  Entry entry;
  size_t at = 0;
  auto skipSpaces = [&] {
    while (at < text.size() && std::isspace(static_cast<unsigned char>(text[at]))) ++at;
  };
  for (skipSpaces(); at < text.size(); skipSpaces()) {
    size_t equals = text.find('=', at);
    if (equals == std::string_view::npos) {
      return Error{fmt::format("'{}' is not key=value", text.substr(at))};
    }
    std::string key = text::trimmed(std::string(text.substr(at, equals - at)));
    at = equals + 1;
    skipSpaces();
    std::string value;
    if (at < text.size() && text[at] == '\'') {
      ++at;
      for (; at < text.size() && text[at] != '\''; ++at) {
        if (text[at] == '\\' && at + 1 < text.size()) ++at;
        value += text[at];
      }
      if (at >= text.size()) return Error{"a quoted value is not closed"};
      ++at;
    } else {
      while (at < text.size() && !std::isspace(static_cast<unsigned char>(text[at]))) {
        value += text[at++];
      }
    }
    entry.emplace_back(key, value);
  }
  return entry;
}

std::string formatEntry(const Entry& entry) {
  std::vector<std::string> words;
  for (const auto& [key, value] : entry) {
    bool plain = !value.empty() && value.find_first_of(" \t'\\") == std::string::npos;
    if (plain) {
      words.push_back(key + "=" + value);
      continue;
    }
    std::string quoted;
    for (char c : value) {
      if (c == '\'' || c == '\\') quoted += '\\';
      quoted += c;
    }
    words.push_back(fmt::format("{}='{}'", key, quoted));
  }
  return text::joined(words, " ");
}

void setKey(Entry& entry, const std::string& key, const std::string& value) {
  for (auto& [name, old] : entry) {
    if (name == key) {
      old = value;
      return;
    }
  }
  entry.emplace_back(key, value);
}

/// host, port, dbname and user of a libpq URL (no password: the pooler
/// logs in with its own auth_file or auth_query).
Result<Entry> connectionOf(const std::string& url) {
  char* message = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &message);
  if (options == nullptr) {
    std::string why = message != nullptr ? text::trimmed(message) : "out of memory";
    PQfreemem(message);
    return Error{
        fmt::format("cannot read the URL {}: {}", text::redact(url, pg::passwordIn(url)), why)};
  }
  Entry entry;
  for (PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    std::string key = option->keyword;
    if (option->val == nullptr) continue;
    if (key == "host" || key == "port" || key == "dbname" || key == "user") {
      entry.emplace_back(key, option->val);
    }
  }
  PQconninfoFree(options);
  return entry;
}

/// The configuration file with the pool's entry replaced: the line
/// `POOL = ...` of its [databases] section.
struct Rewrite {
  std::string text;
  std::string before;  ///< the entry as it was
  std::string after;
};

Result<Rewrite> rewriteConfig(const std::string& config, const std::string& pool, const Entry& to) {
  std::istringstream in(config);
  std::string line;
  std::string section;
  Rewrite rewrite;
  bool found = false;
  while (std::getline(in, line)) {
    std::string bare = text::trimmed(line);
    if (!bare.empty() && bare.front() == '[' && bare.back() == ']') {
      section = text::trimmed(bare.substr(1, bare.size() - 2));
    } else if (section == "databases" && !bare.empty() && bare[0] != ';' && bare[0] != '#') {
      size_t equals = bare.find('=');
      std::string key = equals == std::string::npos ? "" : text::trimmed(bare.substr(0, equals));
      if (key.size() >= 2 && key.front() == '"' && key.back() == '"') {
        key = key.substr(1, key.size() - 2);
      }
      if (key == pool) {
        if (found) return Error{fmt::format("pool {} has two entries", pool)};
        found = true;
        Result<Entry> entry = parseEntry(bare.substr(equals + 1));
        if (!entry)
          return Error{fmt::format("cannot read the entry of pool {}: {}", pool, entry.error())};
        rewrite.before = formatEntry(*entry);
        for (const auto& [name, value] : to) {
          // `user=` in an entry forces every client to log in as that user:
          // changed where the entry has one, never added (adding one also
          // makes PgBouncer 1.18 crash at the next login, issue #41).
          bool forcedUser = std::any_of(entry->begin(), entry->end(),
                                        [](const auto& key) { return key.first == "user"; });
          if (name == "user" && !forcedUser) continue;
          setKey(*entry, name, value);
        }
        rewrite.after = formatEntry(*entry);
        line = bare.substr(0, equals) + "= " + rewrite.after;
      }
    }
    rewrite.text += line + "\n";
  }
  if (!found) return Error{fmt::format("its [databases] section has no entry for pool {}", pool)};
  return rewrite;
}

/// Replaces `path` with `text` at once (a new file renamed over it), with
/// the old file's owner and mode: the pooler, which may run as another
/// user, reads it on RELOAD.
Status replaceFile(const std::string& path, const std::string& text) {
  struct stat old {};
  if (::stat(path.c_str(), &old) != 0) {
    return Error{fmt::format("cannot read {}: {}", path, std::strerror(errno))};
  }
  std::string temporary = path + ".mig-new";
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error{fmt::format("cannot write {}: {}", temporary, std::strerror(errno))};
  bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                 ::fchmod(fd, old.st_mode & 07777) == 0 &&
                 (::fchown(fd, old.st_uid, old.st_gid) == 0 || errno == EPERM) && ::fsync(fd) == 0;
  int savedErrno = errno;
  ::close(fd);
  if (!written || ::rename(temporary.c_str(), path.c_str()) != 0) {
    if (written) savedErrno = errno;
    ::unlink(temporary.c_str());
    return Error{fmt::format("cannot replace {}: {}", path, std::strerror(savedErrno))};
  }
  return success();
}

/// The pool's database as the pooler now has it: "host:port/dbname".
Result<std::string> poolTarget(pg::Connection& console, const std::string& pool) {
  Result<pg::Rows> rows = console.simpleQuery("SHOW DATABASES");
  if (!rows) return Error{"SHOW DATABASES: " + rows.error()};
  // Columns: name, host, port, database, force_user, ...
  for (int row = 0; row < rows->size(); ++row) {
    if (rows->text(row, 0) == pool) {
      return fmt::format("{}:{}/{}", rows->text(row, 1), rows->text(row, 2), rows->text(row, 3));
    }
  }
  return Error{fmt::format("the pooler has no pool {}", pool)};
}

}  // namespace

int pgbouncerPause(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  auto admin = args.require("admin", err);
  auto pool = args.require("pool", err);
  if (!admin || !pool || !plainPoolName(*pool, "pgbouncer-pause", err)) return 2;
  milliseconds wait(30000);
  if (auto it = args.options.find("wait"); it != args.options.end()) {
    std::optional<int64_t> parsed = text::parseMilliseconds(it->second);
    if (!parsed) {
      err << "pgbouncer-pause: --wait is a duration like 30000ms or 30s, not '" << it->second
          << "'\n";
      return 2;
    }
    wait = milliseconds(*parsed);
  }
  auto console = openConsole(*admin);
  if (!console) return refuseUnchanged(err, "pgbouncer-pause", "pause " + *pool, {console.error()});
  auto started = std::chrono::steady_clock::now();
  bool timedOut = false;
  Result<pg::Rows> paused = (*console)->simpleQuery("PAUSE " + *pool, wait, &timedOut);
  if (paused) {
    auto ms = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started);
    out << fmt::format(
        "paused pool {}: its clients wait; every server connection was idle "
        "after {} ms\n",
        *pool, ms.count());
    return 0;
  }
  if (!timedOut) {
    return refuseUnchanged(err, "pgbouncer-pause", "pause " + *pool, {paused.error()});
  }
  // A transaction did not end in time: the pool goes back to work.
  console->reset();
  auto again = openConsole(*admin);
  Result<pg::Rows> resumed =
      again ? (*again)->simpleQuery("RESUME " + *pool) : Result<pg::Rows>(Error{again.error()});
  if (!resumed && !notPaused(resumed.error())) {
    err << fmt::format(
        "pgbouncer-pause: pool {} still had transactions after {} ms, and "
        "resuming it failed: {}; run pgbouncer.resume\n",
        *pool, wait.count(), resumed.error());
    return 1;
  }
  return refuseUnchanged(err, "pgbouncer-pause", "pause " + *pool,
                         {fmt::format("its server connections were still in transactions after "
                                      "{} ms; the pool was resumed",
                                      wait.count())});
}

int pgbouncerResume(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  auto admin = args.require("admin", err);
  auto pool = args.require("pool", err);
  if (!admin || !pool || !plainPoolName(*pool, "pgbouncer-resume", err)) return 2;
  auto console = openConsole(*admin);
  if (!console) {
    return refuseUnchanged(err, "pgbouncer-resume", "resume " + *pool, {console.error()});
  }
  Result<pg::Rows> resumed = (*console)->simpleQuery("RESUME " + *pool);
  if (!resumed) {
    if (notPaused(resumed.error())) {
      out << "pool " << *pool << " was not paused\n";
      return 0;
    }
    return refuseUnchanged(err, "pgbouncer-resume", "resume " + *pool, {resumed.error()});
  }
  out << "resumed pool " << *pool << '\n';
  return 0;
}

int pgbouncerPoint(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  auto admin = args.require("admin", err);
  auto pool = args.require("pool", err);
  auto config = args.require("config", err);
  auto to = args.require("to", err);
  if (!admin || !pool || !config || !to) return 2;
  if (!plainPoolName(*pool, "pgbouncer-point", err)) return 2;
  std::string action =
      fmt::format("point pool {} at {}", *pool, text::redact(*to, pg::passwordIn(*to)));
  Result<Entry> target = connectionOf(*to);
  if (!target) return refuseUnchanged(err, "pgbouncer-point", action, {target.error()});
  auto console = openConsole(*admin);
  if (!console) return refuseUnchanged(err, "pgbouncer-point", action, {console.error()});
  Result<std::string> before = poolTarget(**console, *pool);
  if (!before) return refuseUnchanged(err, "pgbouncer-point", action, {before.error()});

  // A symlinked configuration is changed where it lives: a new file
  // renamed over the link would replace the link, not what the pooler reads.
  std::error_code unresolved;
  std::string configFile = std::filesystem::canonical(*config, unresolved).string();
  if (unresolved) configFile = *config;
  std::ifstream in(configFile, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) {
    return refuseUnchanged(err, "pgbouncer-point", action,
                           {fmt::format("cannot read {}: {}", *config, std::strerror(errno))});
  }
  Result<Rewrite> rewrite = rewriteConfig(text.str(), *pool, *target);
  if (!rewrite) {
    return refuseUnchanged(err, "pgbouncer-point", action,
                           {fmt::format("{}: {}", *config, rewrite.error())});
  }
  if (rewrite->text != text.str()) {
    Status replaced = replaceFile(configFile, rewrite->text);
    if (!replaced) return refuseUnchanged(err, "pgbouncer-point", action, {replaced.error()});
  }
  Result<pg::Rows> reloaded = (*console)->simpleQuery("RELOAD");
  Result<std::string> now = reloaded ? poolTarget(**console, *pool)
                                     : Result<std::string>(Error{"RELOAD: " + reloaded.error()});
  if (!now) {
    err << fmt::format(
        "pgbouncer-point: {} now names the new database, but the pooler did not "
        "take it: {}\n",
        *config, now.error());
    return 1;
  }
  auto field = [&](const std::string& key, const std::string& fallback) {
    for (const auto& [name, value] : *target) {
      if (name == key) return value;
    }
    return fallback;
  };
  std::string wanted =
      fmt::format("{}:{}/{}", field("host", ""), field("port", "5432"), field("dbname", *pool));
  if (*now != wanted) {
    err << fmt::format(
        "pgbouncer-point: {} now names {}, but the pooler sends pool {} to {} "
        "after RELOAD (is {} the file it reads?)\n",
        *config, wanted, *pool, *now, *config);
    return 1;
  }
  out << fmt::format("pointed pool {}: {} -> {} (the pooler sent it to {}, now to {})\n", *pool,
                     rewrite->before, rewrite->after, *before, *now);
  return 0;
}

}  // namespace mig::drivers
