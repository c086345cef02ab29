#pragma once
// The strict JSON parser as it was before ParseJson got its own SAX handler: nlohmann's DOM
// parser with a callback refusing floats, nesting deeper than 32 and duplicate keys (a std::set
// of keys per open object). Kept as the reference the unit tests and the json fuzz target
// compare ParseJson with: the same documents accepted, the same trees.
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/json.hpp"

namespace fwchain::test {

inline Expected<Json> ReferenceParseJson(std::string_view text) {
    std::string problem;
    std::vector<std::set<std::string>> keys_per_level;
    auto cb = [&](int depth, Json::parse_event_t event, Json& parsed) -> bool {
        if (!problem.empty()) return false;
        switch (event) {
            case Json::parse_event_t::object_start:
                if (depth >= 32) problem = "nesting deeper than 32";
                keys_per_level.emplace_back();
                break;
            case Json::parse_event_t::object_end:
                if (!keys_per_level.empty()) keys_per_level.pop_back();
                break;
            case Json::parse_event_t::array_start:
                if (depth >= 32) problem = "nesting deeper than 32";
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
        Json j = Json::parse(text.begin(), text.end(), cb, true);
        if (!problem.empty()) return Fail(Errc::kInvalid, "malformed-json", problem);
        if (j.is_discarded()) return Fail(Errc::kInvalid, "malformed-json", "document rejected");
        return j;
    } catch (const Json::exception& e) {
        if (!problem.empty()) return Fail(Errc::kInvalid, "malformed-json", problem);
        return Fail(Errc::kInvalid, "malformed-json", e.what());
    }
}

}  // namespace fwchain::test
