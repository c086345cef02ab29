#include "common/core/json.hpp"

#include <set>
#include <vector>

#include "common/core/fs.hpp"

namespace fwchain {

namespace {
constexpr int kMaxDepth = 32;
}

Expected<Json> ParseJson(std::string_view text, std::size_t max_size) {
    if (text.size() > max_size) {
        return Fail(Errc::kTooLarge, "too-large",
                    "JSON document of " + std::to_string(text.size()) +
                        " bytes exceeds the limit of " + std::to_string(max_size));
    }
    // The parser callback sees every event before the value is stored: it rejects floats,
    // excessive nesting and duplicate keys (which canonical JSON forbids).
    std::string problem;
    std::vector<std::set<std::string>> keys_per_level;
    auto cb = [&](int depth, Json::parse_event_t event, Json& parsed) -> bool {
        if (!problem.empty()) return false;
        switch (event) {
            case Json::parse_event_t::object_start:
                if (depth >= kMaxDepth) problem = "nesting deeper than 32";
                keys_per_level.emplace_back();
                break;
            case Json::parse_event_t::object_end:
                if (!keys_per_level.empty()) keys_per_level.pop_back();
                break;
            case Json::parse_event_t::array_start:
                if (depth >= kMaxDepth) problem = "nesting deeper than 32";
                break;
            case Json::parse_event_t::key:
                if (!keys_per_level.empty() &&
                    !keys_per_level.back().insert(parsed.get<std::string>()).second) {
                    problem = "duplicate key \"" + parsed.get<std::string>() + "\"";
                }
                break;
            case Json::parse_event_t::value:
                if (parsed.is_number_float()) problem = "floating-point numbers are not allowed";
                break;
            default:
                break;
        }
        return problem.empty();
    };
    try {
        Json j = Json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/true);
        if (!problem.empty()) return Fail(Errc::kInvalid, "malformed-json", problem);
        if (j.is_discarded()) return Fail(Errc::kInvalid, "malformed-json", "document rejected");
        return j;
    } catch (const Json::exception& e) {
        if (!problem.empty()) return Fail(Errc::kInvalid, "malformed-json", problem);
        return Fail(Errc::kInvalid, "malformed-json", e.what());
    }
}

std::string Canonical(const Json& j) {
    // Invalid UTF-8 is replaced rather than thrown: signed strings come from our own parser,
    // which already rejected invalid UTF-8, so this only guards internal misuse.
    return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

namespace {
Error Missing(const char* key, const char* what) {
    return MakeError(Errc::kInvalid, "bad-field",
                     std::string("field \"") + key + "\" is missing or not " + what);
}
}  // namespace

Expected<std::string> GetString(const Json& j, const char* key) {
    if (!j.is_object()) return Fail(Missing(key, "a string (not an object)"));
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return Fail(Missing(key, "a string"));
    return it->get<std::string>();
}

Expected<std::int64_t> GetInt(const Json& j, const char* key) {
    if (!j.is_object()) return Fail(Missing(key, "an integer"));
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer()) return Fail(Missing(key, "an integer"));
    if (it->is_number_unsigned() && it->get<std::uint64_t>() > INT64_MAX) {
        return Fail(Missing(key, "an integer in range"));
    }
    return it->get<std::int64_t>();
}

Expected<std::uint64_t> GetUint(const Json& j, const char* key) {
    if (!j.is_object()) return Fail(Missing(key, "an unsigned integer"));
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer()) return Fail(Missing(key, "an unsigned integer"));
    if (!it->is_number_unsigned() && it->get<std::int64_t>() < 0) {
        return Fail(Missing(key, "an unsigned integer"));
    }
    return it->get<std::uint64_t>();
}

Expected<const Json*> GetObject(const Json& j, const char* key) {
    if (!j.is_object()) return Fail(Missing(key, "an object"));
    auto it = j.find(key);
    if (it == j.end() || !it->is_object()) return Fail(Missing(key, "an object"));
    return &*it;
}

Expected<const Json*> GetArray(const Json& j, const char* key) {
    if (!j.is_object()) return Fail(Missing(key, "an array"));
    auto it = j.find(key);
    if (it == j.end() || !it->is_array()) return Fail(Missing(key, "an array"));
    return &*it;
}

Expected<Json> LoadJsonFile(const std::string& path, std::size_t max_size) {
    FW_ASSIGN(std::string text, ReadFile(path, max_size));
    auto j = ParseJson(text, max_size);
    if (!j) return Fail(Context(j.error(), path));
    return j;
}

}  // namespace fwchain
