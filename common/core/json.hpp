#pragma once
// Canonical JSON (DESIGN.md §4): UTF-8, keys sorted, no insignificant whitespace, integers only.
// nlohmann::json stores objects in a std::map, so dump() of any value is already canonical.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/core/expected.hpp"

namespace fwchain {

using Json = nlohmann::json;

// Parses untrusted bytes: rejects malformed JSON, floats anywhere, nesting deeper than 32,
// duplicate keys, and input longer than max_size.
Expected<Json> ParseJson(std::string_view text, std::size_t max_size = 4 << 20);

// Canonical serialisation, the bytes that get hashed and signed.
std::string Canonical(const Json& j);
// Appends Canonical(j) to `out`, byte for byte, writing objects, arrays, ASCII strings and
// integers itself (no serializer object, no temporary string) and handing anything else
// (non-ASCII strings, floats) to nlohmann's serializer. For hot paths (tx and block texts).
void AppendCanonical(std::string& out, const Json& j);
// Appends Canonical(Json(s)): `s` quoted and escaped as the serializer does.
void AppendCanonicalString(std::string& out, std::string_view s);

// Typed accessors for untrusted objects: a missing or mistyped field is an Errc::kInvalid
// error naming the field.
Expected<std::string> GetString(const Json& j, const char* key);
Expected<std::int64_t> GetInt(const Json& j, const char* key);
Expected<std::uint64_t> GetUint(const Json& j, const char* key);
Expected<const Json*> GetObject(const Json& j, const char* key);
Expected<const Json*> GetArray(const Json& j, const char* key);

}  // namespace fwchain

namespace fwchain {
// Reads and parses a JSON file (config files, stored documents).
Expected<Json> LoadJsonFile(const std::string& path, std::size_t max_size = 16 << 20);
}  // namespace fwchain
