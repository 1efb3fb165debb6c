#pragma once

// How redis-compare reads one key's value and tells two values apart, by
// type; and how it tells two servers' function libraries apart.

#include <string>
#include <string_view>
#include <vector>

#include "runtime/drivers/redis_client.h"

namespace mig::drivers::redis {

/// How a key's value is read for comparison, by TYPE.
struct TypeReader {
  std::string_view type;
  std::string_view length;             ///< empty: no cheap length command
  std::vector<std::string_view> read;  ///< the command, without the key
  size_t keyAt = 1;                    ///< where the key goes in `read`
};

/// The reader for `type`; module types and anything newer are read (and
/// compared) as DUMP payloads.
const TypeReader& readerFor(std::string_view type);

/// What differs between the values `a` and `b` of one key of type `type`,
/// as read by `readerFor(type)`: one phrase per difference ("different
/// values (field f differs)", "group g: last-delivered-id 2-0 in a, 1-0 in
/// b"); empty when they are equal. Hash fields and set members compare as
/// sets; zset scores by the exact double, so -0 and 0 differ; streams by
/// their entries, their ids (last generated, max deleted, entries added),
/// and each consumer group's last-delivered id, entries read, consumers and
/// pending entries (id, consumer, delivery count).
std::vector<std::string> valueDifferences(std::string_view type, const Reply& a, const Reply& b);

/// The function libraries of two servers (FUNCTION LIST WITHCODE replies),
/// one phrase per difference ("function library lib only in a", "function
/// library lib: different code").
std::vector<std::string> functionDifferences(const Reply& a, const Reply& b);

/// How many libraries a FUNCTION LIST reply lists.
size_t functionLibraryCount(const Reply& list);

}  // namespace mig::drivers::redis
