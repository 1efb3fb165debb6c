// `mig state export|import`: a journal's history as one JSON document, to
// move plans from the local SQLite file to a team's PostgreSQL journal (or
// back). The import replays each run through the journal's own writes, so
// the target keeps every promise it keeps for runs made there.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "runtime/state_store.h"

namespace mig::cli {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

constexpr const char* kExportSchema = "mig.journal-export";
constexpr int kExportVersion = 1;

Json optional(const std::optional<int64_t>& value) {
  return value ? Json(*value) : Json(nullptr);
}

Json runJson(runtime::StateStore& journal, const runtime::RunRecord& run, std::string& error) {
  Json out;
  out["plan"] = run.plan;
  out["number"] = run.number;
  out["planHash"] = run.planHash;
  out["planFile"] = run.planFile;
  out["compiled"] = run.compiled;
  out["state"] = runtime::nameOf(run.state);
  out["message"] = run.message;
  out["startedAt"] = run.startedAt;
  out["finishedAt"] = run.finishedAt;
  out["switchoverAt"] = optional(run.switchoverAt);
  out["retainUntil"] = optional(run.retainUntil);
  out["host"] = run.host;
  out["pid"] = run.pid;
  Json steps = Json::array();
  Json attempts = Json::array();
  for (const runtime::StepRecord& step : journal.steps(run.id)) {
    Json s;
    s["step"] = step.step;
    s["state"] = runtime::nameOf(step.state);
    s["message"] = step.message;
    s["order"] = step.order;
    steps.push_back(std::move(s));
    for (const runtime::AttemptRecord& attempt : journal.attempts(run.id, step.step)) {
      Json a;
      a["step"] = step.step;
      a["kind"] = runtime::nameOf(attempt.kind);
      a["attempt"] = attempt.attempt;
      a["startedAt"] = attempt.startedAt;
      a["finishedAt"] = attempt.finishedAt;
      a["exitCode"] = attempt.exitCode ? Json(*attempt.exitCode) : Json(nullptr);
      a["outcome"] = runtime::nameOf(attempt.outcome);
      a["logPath"] = attempt.logPath;
      a["logNote"] = attempt.logNote;
      attempts.push_back(std::move(a));
    }
  }
  if (!journal.lastError().empty()) error = journal.lastError();
  out["steps"] = std::move(steps);
  out["attempts"] = std::move(attempts);
  return out;
}

int exportJournal(const StateOptions& options, runtime::StateStore& journal) {
  std::vector<std::string> plans = options.plans;
  if (plans.empty()) plans = journal.plans();
  if (!journal.lastError().empty()) {
    printError("cannot read the journal: " + journal.lastError());
    return kJournalFailed;
  }
  Json runs = Json::array();
  for (const std::string& plan : plans) {
    std::vector<runtime::RunRecord> records = journal.runs(plan);
    if (!journal.lastError().empty()) {
      printError("cannot read the journal: " + journal.lastError());
      return kJournalFailed;
    }
    if (records.empty()) {
      printError(fmt::format("plan {} has no run in the journal", plan));
      return kUsage;
    }
    for (const runtime::RunRecord& run : records) {
      std::string error;
      Json entry = runJson(journal, run, error);
      if (!error.empty()) {
        printError("cannot read the journal: " + error);
        return kJournalFailed;
      }
      runs.push_back(std::move(entry));
    }
  }
  Json document;
  document["schema"] = kExportSchema;
  document["schemaVersion"] = kExportVersion;
  document["runs"] = std::move(runs);
  std::string text = document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (options.output.empty() || options.output == "-") {
    std::cout << text;
    return kSuccess;
  }
  std::ofstream out(options.output, std::ios::binary);
  out << text;
  out.close();
  if (!out) {
    printError(fmt::format("cannot write {}", options.output));
    return kUsage;
  }
  return kSuccess;
}

// Reads a named state of an exported document, or reports where it is wrong.
template <typename Enum>
std::optional<Enum> stateAt(const Json& object, const char* key, const std::string& where,
                            std::string& error) {
  if (!object.contains(key) || !object[key].is_string()) {
    error = fmt::format("{}.{}: missing", where, key);
    return std::nullopt;
  }
  auto value = runtime::stateNamed<Enum>(object[key].get<std::string>());
  if (!value)
    error = fmt::format("{}.{}: '{}' is not a state mig knows", where, key,
                        object[key].get<std::string>());
  return value;
}

// Replays one exported run into `journal`, inside the caller's batch.
bool importRun(runtime::StateStore& journal, const Json& run, const std::string& where,
               std::string& error) {
  try {
    runtime::RunRecord record;
    record.plan = run.at("plan").get<std::string>();
    record.number = run.at("number").get<int64_t>();
    record.planHash = run.at("planHash").get<std::string>();
    record.planFile = run.at("planFile").get<std::string>();
    record.compiled = run.at("compiled").get<std::string>();
    record.message = run.at("message").get<std::string>();
    record.startedAt = run.at("startedAt").get<int64_t>();
    record.host = run.at("host").get<std::string>();
    record.pid = run.at("pid").get<int64_t>();
    auto state = stateAt<runtime::RunState>(run, "state", where, error);
    if (!state) return false;
    std::vector<std::string> names;
    for (const Json& step : run.at("steps")) names.push_back(step.at("step").get<std::string>());

    auto fail = [&](const std::string& why) {
      error = why;
      return false;
    };
    std::optional<int64_t> id = journal.createRun(record, names);
    if (!id) return fail(journal.lastError());
    std::optional<runtime::RunRecord> created = journal.run(*id);
    if (!created) return fail(journal.lastError());
    if (created->number != record.number) {
      return fail(
          fmt::format("{}: run {} of plan {} would become run {}: export and import "
                      "every run of a plan together",
                      where, record.number, record.plan, created->number));
    }
    // Every process in the order it started; each step's final state after.
    std::vector<const Json*> attempts;
    for (const Json& attempt : run.at("attempts")) attempts.push_back(&attempt);
    std::stable_sort(attempts.begin(), attempts.end(), [](const Json* a, const Json* b) {
      return a->at("startedAt").get<int64_t>() < b->at("startedAt").get<int64_t>();
    });
    for (const Json* attempt : attempts) {
      std::string at = where + ".attempts";
      auto kind = stateAt<runtime::ProcessKind>(*attempt, "kind", at, error);
      auto outcome = stateAt<runtime::ProcessOutcome>(*attempt, "outcome", at, error);
      if (!kind || !outcome) return fail(error);
      const std::string step = attempt->at("step").get<std::string>();
      const int number = attempt->at("attempt").get<int>();
      runtime::StepState during = *kind == runtime::ProcessKind::Undo ? runtime::StepState::Undoing
                                                                      : runtime::StepState::Running;
      if (!journal.processStarted(*id, step, *kind, number, attempt->at("startedAt").get<int64_t>(),
                                  attempt->at("logPath").get<std::string>(), during)) {
        return fail(journal.lastError());
      }
      const int64_t finishedAt = attempt->at("finishedAt").get<int64_t>();
      if (finishedAt == 0) continue;
      std::optional<int> exitCode;
      if (!attempt->at("exitCode").is_null()) exitCode = attempt->at("exitCode").get<int>();
      if (!journal.processFinished(*id, step, *kind, number, finishedAt, *outcome, exitCode, during,
                                   "", attempt->at("logNote").get<std::string>())) {
        return fail(journal.lastError());
      }
    }
    // Done steps in their completion order: a rollback undoes them in turn.
    std::vector<const Json*> steps;
    for (const Json& step : run.at("steps")) steps.push_back(&step);
    std::stable_sort(steps.begin(), steps.end(), [](const Json* a, const Json* b) {
      return a->at("order").get<int64_t>() < b->at("order").get<int64_t>();
    });
    for (const Json* step : steps) {
      auto stepState = stateAt<runtime::StepState>(*step, "state", where + ".steps", error);
      if (!stepState) return fail(error);
      if (!journal.setStepState(*id, step->at("step").get<std::string>(), *stepState,
                                step->at("message").get<std::string>())) {
        return fail(journal.lastError());
      }
    }
    if (!journal.setRunState(*id, *state, record.message, run.at("finishedAt").get<int64_t>()) ||
        !journal.setRunner(*id, record.host, record.pid)) {
      return fail(journal.lastError());
    }
    if (!run.at("switchoverAt").is_null()) {
      std::optional<int64_t> retainUntil;
      if (!run.at("retainUntil").is_null()) retainUntil = run.at("retainUntil").get<int64_t>();
      if (!journal.setSwitchover(*id, run.at("switchoverAt").get<int64_t>(), retainUntil)) {
        return fail(journal.lastError());
      }
    }
    return true;
  } catch (const nlohmann::json::exception& e) {
    error = fmt::format("{}: {}", where, e.what());
    return false;
  }
}

int importJournal(const StateOptions& options, runtime::StateStore& journal,
                  const std::string& shownName) {
  if (options.file.empty()) {
    printError("mig state import needs the exported file ('-' for stdin)");
    return kUsage;
  }
  std::string text;
  if (options.file == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(options.file, std::ios::binary);
    if (!in) {
      printError(fmt::format("cannot read {}", options.file));
      return kUsage;
    }
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  Json document = Json::parse(text, nullptr, false);
  if (document.is_discarded() || !document.is_object() ||
      document.value("schema", "") != kExportSchema || !document.contains("runs") ||
      !document["runs"].is_array()) {
    printError(
        fmt::format("{} is not an export of a mig journal (`mig state export`)", options.file));
    return kUsage;
  }
  if (document.value("schemaVersion", 0) != kExportVersion) {
    printError(fmt::format("{}: export version {} is not supported: this mig reads version {}",
                           options.file, document.value("schemaVersion", 0), kExportVersion));
    return kUsage;
  }
  // Nothing is written when any plan already has history here: two
  // histories of one plan cannot be told apart.
  std::map<std::string, int> runsOf;
  for (const Json& run : document["runs"]) {
    if (!run.is_object() || !run.contains("plan") || !run["plan"].is_string()) {
      printError(fmt::format("{}: a run without a plan", options.file));
      return kUsage;
    }
    ++runsOf[run["plan"].get<std::string>()];
  }
  for (const auto& [plan, count] : runsOf) {
    std::optional<runtime::RunRecord> existing = journal.lastRun(plan);
    if (!journal.lastError().empty()) {
      printError("cannot read the journal: " + journal.lastError());
      return kJournalFailed;
    }
    if (existing) {
      printError(
          fmt::format("plan {} already has runs in {}: nothing was imported (import a "
                      "plan's history into a journal that has none of it)",
                      plan, shownName));
      return kUsage;
    }
  }
  // One transaction: a document imports whole, or not at all.
  journal.beginBatch();
  size_t index = 0;
  for (const Json& run : document["runs"]) {
    std::string error;
    std::string where = fmt::format("{}: runs[{}]", options.file, index++);
    if (!importRun(journal, run, where, error)) {
      journal.abortBatch();
      printError(fmt::format("{}: nothing was imported", error));
      return kJournalFailed;
    }
  }
  if (!journal.commitBatch()) {
    printError(fmt::format("{}: nothing was imported", journal.lastError()));
    return kJournalFailed;
  }
  for (const auto& [plan, count] : runsOf) {
    std::cout << fmt::format("imported {} run{} of plan {} into {}\n", count, count == 1 ? "" : "s",
                             plan, shownName);
  }
  return kSuccess;
}

}  // namespace

int stateCommand(const StateOptions& options) {
  const std::string journalLocation = journalLocationFor(options.statePath, "");
  if (options.action == "export" && !runtime::StateStore::isPostgresUrl(journalLocation) &&
      !fs::exists(journalLocation)) {
    printError(fmt::format("no journal at {}", journalLocation));
    return kUsage;
  }
  std::string error;
  auto journal = runtime::StateStore::open(journalLocation, false, error);
  if (!journal) {
    printError(error);
    return kJournalFailed;
  }
  if (options.action == "export") return exportJournal(options, *journal);
  return importJournal(options, *journal, journalName(journalLocation));
}

}  // namespace mig::cli
