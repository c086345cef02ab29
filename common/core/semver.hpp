#pragma once
// Semantic versions (semver 2.0.0 precedence), for people and for the vendor's publish checks.
// Devices compare only `sequence` numbers, never versions.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fwchain {

struct SemVer {
    std::uint64_t major = 0, minor = 0, patch = 0;
    std::vector<std::string> prerelease;
    std::string build;

    // Accepts an optional leading 'v' ("v1.4.2").
    static std::optional<SemVer> Parse(std::string_view s);
    std::string ToString() const;
    int Compare(const SemVer& o) const;  // <0, 0, >0; build metadata ignored
    bool operator<(const SemVer& o) const { return Compare(o) < 0; }
    bool operator==(const SemVer& o) const { return Compare(o) == 0; }
};

}  // namespace fwchain
