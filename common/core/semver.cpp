#include "common/core/semver.hpp"

#include <charconv>

namespace fwchain {

namespace {
bool ParseNumber(std::string_view s, std::uint64_t& out) {
    if (s.empty() || (s.size() > 1 && s[0] == '0')) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}
bool IsIdentChar(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}
bool IsNumeric(const std::string& s) {
    for (char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return !s.empty();
}
}  // namespace

std::optional<SemVer> SemVer::Parse(std::string_view s) {
    if (!s.empty() && s[0] == 'v') s.remove_prefix(1);
    SemVer v;
    auto plus = s.find('+');
    if (plus != std::string_view::npos) {
        v.build = std::string(s.substr(plus + 1));
        // Dot-separated non-empty identifiers of [0-9A-Za-z-] (semver 2.0.0 §10).
        if (v.build.empty() || v.build.front() == '.' || v.build.back() == '.' ||
            v.build.find("..") != std::string::npos) {
            return std::nullopt;
        }
        for (char c : v.build) {
            if (c != '.' && !IsIdentChar(c)) return std::nullopt;
        }
        s = s.substr(0, plus);
    }
    std::string_view pre;
    auto dash = s.find('-');
    if (dash != std::string_view::npos) {
        pre = s.substr(dash + 1);
        if (pre.empty()) return std::nullopt;
        s = s.substr(0, dash);
    }
    std::uint64_t* parts[] = {&v.major, &v.minor, &v.patch};
    for (int i = 0; i < 3; ++i) {
        auto dot = s.find('.');
        std::string_view part = i < 2 ? s.substr(0, dot) : s;
        if (i < 2 && dot == std::string_view::npos) return std::nullopt;
        if (!ParseNumber(part, *parts[i])) return std::nullopt;
        if (i < 2) s = s.substr(dot + 1);
    }
    while (!pre.empty()) {
        auto dot = pre.find('.');
        std::string id(pre.substr(0, dot));
        if (id.empty()) return std::nullopt;
        for (char c : id) {
            if (!IsIdentChar(c)) return std::nullopt;
        }
        if (IsNumeric(id) && id.size() > 1 && id[0] == '0') return std::nullopt;
        v.prerelease.push_back(id);
        if (dot == std::string_view::npos) break;
        pre = pre.substr(dot + 1);
        if (pre.empty()) return std::nullopt;
    }
    return v;
}

std::string SemVer::ToString() const {
    std::string s =
        std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
    for (std::size_t i = 0; i < prerelease.size(); ++i) s += (i == 0 ? "-" : ".") + prerelease[i];
    if (!build.empty()) s += "+" + build;
    return s;
}

int SemVer::Compare(const SemVer& o) const {
    if (major != o.major) return major < o.major ? -1 : 1;
    if (minor != o.minor) return minor < o.minor ? -1 : 1;
    if (patch != o.patch) return patch < o.patch ? -1 : 1;
    // A pre-release sorts before its release.
    if (prerelease.empty() || o.prerelease.empty()) {
        if (prerelease.empty() == o.prerelease.empty()) return 0;
        return prerelease.empty() ? 1 : -1;
    }
    for (std::size_t i = 0; i < prerelease.size() && i < o.prerelease.size(); ++i) {
        const auto& a = prerelease[i];
        const auto& b = o.prerelease[i];
        bool an = IsNumeric(a), bn = IsNumeric(b);
        if (an && bn) {
            if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
            if (a != b) return a < b ? -1 : 1;
        } else if (an != bn) {
            return an ? -1 : 1;
        } else if (a != b) {
            return a < b ? -1 : 1;
        }
    }
    if (prerelease.size() == o.prerelease.size()) return 0;
    return prerelease.size() < o.prerelease.size() ? -1 : 1;
}

}  // namespace fwchain
