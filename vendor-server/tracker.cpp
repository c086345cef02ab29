#include "vendor-server/tracker.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace fwchain::vendor {
namespace {

int HexDigit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

template <typename T>
bool ParseNumber(const std::string& s, T& out) {
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return !s.empty() && ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

std::string PercentDecode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 && HexDigit(s[i + 2]) >= 0) {
            out += static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::optional<AnnounceRequest> ParseAnnounceQuery(std::string_view query, std::string* error) {
    AnnounceRequest req;
    bool have_hash = false;
    bool have_port = false;
    std::string_view rest = query;
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
        const auto eq = pair.find('=');
        const std::string key(pair.substr(0, eq));
        const std::string value =
            eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1));
        if (key == "info_hash") {
            req.info_hash = value;
            have_hash = true;
        } else if (key == "peer_id") {
            req.peer_id = value;
        } else if (key == "port") {
            have_port = ParseNumber(value, req.port) && req.port > 0 && req.port < 65536;
        } else if (key == "left") {
            if (!ParseNumber(value, req.left)) {
                *error = "bad left";
                return std::nullopt;
            }
        } else if (key == "event") {
            req.event = value;
        } else if (key == "compact") {
            req.compact = value != "0";
        } else if (key == "numwant") {
            int n = 0;
            if (ParseNumber(value, n) && n >= 0) req.numwant = std::min(n, 200);
        }
    }
    if (!have_hash || req.info_hash.size() != 20) {
        *error = "info_hash must be 20 bytes";
        return std::nullopt;
    }
    if (!have_port) {
        *error = "port missing or invalid";
        return std::nullopt;
    }
    return req;
}

std::string BencodeString(std::string_view s) {
    return std::to_string(s.size()) + ":" + std::string(s);
}

std::string BencodeInt(std::int64_t v) { return "i" + std::to_string(v) + "e"; }

std::string TrackerFailure(std::string_view reason) {
    return "d" + BencodeString("failure reason") + BencodeString(reason) + "e";
}

void Tracker::Expire(std::map<std::string, Peer>& peers, std::int64_t now) const {
    for (auto it = peers.begin(); it != peers.end();) {
        if (now - it->second.last_seen > 2 * interval_) {
            it = peers.erase(it);
        } else {
            ++it;
        }
    }
}

std::size_t Tracker::PeerCount(const std::string& swarm, std::int64_t now) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = swarms_.find(swarm);
    if (it == swarms_.end()) return 0;
    Expire(it->second, now);
    return it->second.size();
}

std::size_t Tracker::TotalPeers(std::int64_t now) {
    std::lock_guard<std::mutex> lock(mu_);
    std::size_t n = 0;
    for (auto& [swarm, peers] : swarms_) {
        Expire(peers, now);
        n += peers.size();
    }
    return n;
}

std::string Tracker::Announce(const std::string& swarm, const AnnounceRequest& req,
                              std::int64_t now) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& peers = swarms_[swarm];
    Expire(peers, now);
    const std::string self = req.ip + "|" + std::to_string(req.port);
    if (req.event == "stopped") {
        peers.erase(self);
    } else {
        Peer& p = peers[self];
        p.ip = req.ip;
        p.port = req.port;
        p.peer_id = req.peer_id;
        p.seeder = req.left == 0;
        p.last_seen = now;
    }

    std::int64_t complete = 0;
    std::int64_t incomplete = 0;
    std::string peers4;
    std::string peers6;
    std::string dict_peers;
    int listed = 0;
    for (const auto& [key, p] : peers) {
        (p.seeder ? complete : incomplete) += 1;
        if (key == self || listed >= req.numwant) continue;
        // A seeder needs no other seeders.
        if (req.left == 0 && p.seeder) continue;
        ++listed;
        if (!req.compact) {
            dict_peers += "d" + BencodeString("ip") + BencodeString(p.ip) +
                          BencodeString("peer id") + BencodeString(p.peer_id) +
                          BencodeString("port") + BencodeInt(p.port) + "e";
            continue;
        }
        const std::uint16_t port_be = htons(static_cast<std::uint16_t>(p.port));
        char port_bytes[2];
        std::memcpy(port_bytes, &port_be, 2);
        in_addr a4{};
        in6_addr a6{};
        if (inet_pton(AF_INET, p.ip.c_str(), &a4) == 1) {
            peers4.append(reinterpret_cast<const char*>(&a4), 4).append(port_bytes, 2);
        } else if (inet_pton(AF_INET6, p.ip.c_str(), &a6) == 1) {
            peers6.append(reinterpret_cast<const char*>(&a6), 16).append(port_bytes, 2);
        }
    }
    // Keys in sorted order (bencode dictionaries are sorted).
    std::string out = "d";
    out += BencodeString("complete") + BencodeInt(complete);
    out += BencodeString("incomplete") + BencodeInt(incomplete);
    out += BencodeString("interval") + BencodeInt(interval_);
    out += BencodeString("min interval") + BencodeInt(std::max<std::int64_t>(1, interval_ / 2));
    if (req.compact) {
        out += BencodeString("peers") + BencodeString(peers4);
        if (!peers6.empty()) out += BencodeString("peers6") + BencodeString(peers6);
    } else {
        out += BencodeString("peers") + "l" + dict_peers + "e";
    }
    out += "e";
    return out;
}

}  // namespace fwchain::vendor
