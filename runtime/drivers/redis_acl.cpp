// acl-verify --kind redis: what a client can learn about who may use a
// Redis server.

#include <fmt/format.h>

#include "runtime/drivers/networks.h"
#include "runtime/drivers/redis_common.h"

namespace mig::drivers::redis {
namespace {

/// "(all interfaces)", "(loopback only)" or "(listed interfaces)" for the
/// `bind` setting ("* -::*", "127.0.0.1 -::1", ...).
std::string describeBind(const std::string& bind) {
  bool all = false;
  bool loopbackOnly = true;
  size_t words = 0;
  for (size_t at = 0; at < bind.size();) {
    size_t end = bind.find(' ', at);
    if (end == std::string::npos) end = bind.size();
    std::string_view address = std::string_view(bind).substr(at, end - at);
    at = end + 1;
    if (address.empty()) continue;
    ++words;
    if (address.starts_with('-')) address.remove_prefix(1);  // "-": optional address
    if (address == "*" || address == "0.0.0.0" || address == "::" || address == "::*") all = true;
    if (!address.starts_with("127.") && address != "::1" && address != "localhost") {
      loopbackOnly = false;
    }
  }
  if (all || words == 0) return "all interfaces";
  return loopbackOnly ? "loopback only" : "listed interfaces";
}

/// Reads what an authenticated client may: the default user, protected
/// mode, bind. Each line says where it came from or why it is missing.
void reportSettings(Connection& connection, Reporter& reporter) {
  auto user = connection.command({"ACL", "GETUSER", "default"});
  bool userKnown = false;
  if (user && user->isArray()) {
    for (size_t i = 0; i + 1 < user->elements.size(); i += 2) {
      if (user->elements[i].text != "flags") continue;
      bool on = false;
      bool nopass = false;
      for (const Reply& flag : user->elements[i + 1].elements) {
        on = on || flag.text == "on";
        nopass = nopass || flag.text == "nopass";
      }
      reporter.say(fmt::format("  default user: {} (ACL GETUSER default)",
                               !on      ? "disabled"
                               : nopass ? "enabled, no password (nopass)"
                                        : "enabled, needs a password"));
      userKnown = true;
    }
  }
  if (!userKnown) {
    // Before Redis 6, or without permission for ACL: requirepass says as
    // much. Only whether it is set is printed, never its value.
    auto requirepass = connection.command({"CONFIG", "GET", "requirepass"});
    if (requirepass && requirepass->isArray() && requirepass->elements.size() == 2) {
      reporter.say(fmt::format("  requirepass: {} (CONFIG GET requirepass)",
                               requirepass->elements[1].text.empty() ? "not set" : "set"));
    } else {
      reporter.say(fmt::format("  default user: not readable ({})",
                               user && user->isError() ? foreign(user->text) : connection.error()));
    }
  }
  for (std::string_view name : {"protected-mode", "bind"}) {
    auto reply = connection.command({"CONFIG", "GET", name});
    if (!reply || !reply->isArray() || reply->elements.size() != 2) {
      reporter.say(
          fmt::format("  {}: not readable ({})", name,
                      reply && reply->isError() ? foreign(reply->text) : connection.error()));
      continue;
    }
    const std::string& value = reply->elements[1].text;
    if (name == "bind") {
      reporter.say(fmt::format("  bind: {} ({})", value.empty() ? "\"\"" : foreign(value),
                               describeBind(value)));
    } else {
      reporter.say(fmt::format("  {}: {}", name, foreign(value)));
    }
  }
}

}  // namespace
}  // namespace mig::drivers::redis

namespace mig::drivers {

// acl-verify --kind redis. Redis cannot restrict clients by address, so
// this checks exactly what can be checked from here:
//   - checked: whether an unauthenticated client may run commands (a fresh
//     connection without AUTH sends PING; NOAUTH means a password is
//     required) -- this alone decides pass or fail for the server;
//   - reported when the credentials permit (REDISCLI_AUTH): the `default`
//     user's flags (ACL GETUSER; before Redis 6 or without ACL permission,
//     whether requirepass is set), protected-mode, and the bind addresses
//     with whether they cover every interface;
//   - not checked: the declared CIDRs, which Redis cannot enforce; each is
//     listed as to be enforced in the network (firewall, security group),
//     and the check fails when one is open to the world (prefix length 0,
//     e.g. 0.0.0.0/0 or ::/0) or is not an address at all;
//   - not checked either: users other than `default`, TLS, and whether the
//     server is reachable from addresses other than ours.
int redisAclVerify(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  using namespace redis;
  Reporter reporter("acl-verify", out, err);
  // std/acl passes every kind --url-endpoint and --users; Redis needs
  // neither (its password is REDISCLI_AUTH, and it has no users by address).
  if (!onlyKnownOptions(args, {"kind", "url", "url-endpoint", "users"}, reporter)) return 2;
  const auto server = oneServer(args, "url", "REDISCLI_AUTH", reporter, err);
  if (!server) return 2;
  const Endpoint* endpoint = &server->endpoint;
  const Password& password = server->password;
  std::string error;

  ConnectOptions anonymous;
  anonymous.selectDb = false;
  auto probe = Connection::open(*endpoint, anonymous, error);
  if (!probe) return reporter.fail(error);
  auto ping = probe->command({"PING"});
  if (!ping) return reporter.fail(probe->error());
  const bool authRequired = ping->isError() && ping->text.starts_with("NOAUTH");

  std::vector<std::string> failures;
  reporter.say(fmt::format("redis {}", endpoint->address()));
  if (authRequired) {
    reporter.say(fmt::format("  authentication: required (an unauthenticated PING was refused: {})",
                             foreign(ping->text)));
  } else {
    reporter.say("  authentication: NOT required (an unauthenticated PING was answered)");
    failures.push_back("the server accepts unauthenticated clients");
  }
  if (!authRequired || !password.value.empty()) {
    ConnectOptions options;
    options.password = authRequired ? password.value : "";
    options.passwordSource = password.source;
    options.selectDb = false;
    auto session = Connection::open(*endpoint, options, error);
    if (session) {
      reportSettings(*session, reporter);
    } else {
      reporter.say(fmt::format("  settings: not readable ({})", error));
    }
  } else {
    reporter.say(
        "  settings: not read (set REDISCLI_AUTH to read the default user, "
        "protected-mode and bind)");
  }

  if (args.rest.empty()) {
    reporter.say("  declared CIDRs: none");
  } else {
    reporter.say(
        "  not verifiable on Redis: enforce them in the network (firewall, security "
        "group):");
    for (const std::string& cidr : args.rest) {
      const std::optional<Network> network = parseNetwork(cidr);
      if (!network) {
        reporter.say(fmt::format("    {} (not an address or CIDR)", cidr));
        failures.push_back(fmt::format("'{}' is not an address or CIDR", cidr));
      } else if (network->prefix == 0) {
        reporter.say(fmt::format("    {} (open to the world)", cidr));
        failures.push_back(fmt::format("{} opens the server to every address", cidr));
      } else {
        reporter.say(fmt::format("    {}", cidr));
      }
    }
  }
  if (failures.empty()) {
    reporter.say("ok: a password is required and no declared CIDR is open to the world");
    return 0;
  }
  for (const std::string& failure : failures) reporter.say("failed: " + failure);
  return 1;
}

}  // namespace mig::drivers
