#pragma once
// A BitTorrent HTTP tracker (BEP 3) for the vendor's own release torrents only, answering with
// compact peer lists (BEP 23; IPv6 peers in `peers6`, BEP 7). Pure: the caller parses the
// request, decides which swarm an infohash belongs to and passes the clock.
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace fwchain::vendor {

struct AnnounceRequest {
    std::string info_hash;  // 20 raw bytes (v1 infohash, or a v2 infohash truncated to 20)
    std::string peer_id;    // 20 raw bytes
    std::string ip;         // the connection's remote address (a client-supplied ip is ignored)
    int port = 0;
    std::uint64_t left = 0;
    std::string event;  // "", started, completed, stopped
    bool compact = true;
    int numwant = 50;
};

// Parses the query string of GET /announce (the raw target, so binary %XX bytes survive).
// Returns an error text for a malformed request.
std::optional<AnnounceRequest> ParseAnnounceQuery(std::string_view query, std::string* error);

// Percent-decoding of one query value ('+' stays '+': BitTorrent clients escape everything).
std::string PercentDecode(std::string_view s);

// Minimal bencode writers for tracker answers.
std::string BencodeString(std::string_view s);
std::string BencodeInt(std::int64_t v);
// d14:failure reason<len>:<reason>e
std::string TrackerFailure(std::string_view reason);

class Tracker {
  public:
    explicit Tracker(std::int64_t interval = 1800) : interval_(interval) {}

    // Records the peer in `swarm` (or removes it on event=stopped) and answers with up to
    // numwant other live peers. Peers not heard from for 2 × interval are dropped.
    std::string Announce(const std::string& swarm, const AnnounceRequest& req, std::int64_t now);

    // Live peers in a swarm (tests, status).
    std::size_t PeerCount(const std::string& swarm, std::int64_t now);
    // Live peers in all swarms (metrics).
    std::size_t TotalPeers(std::int64_t now);

    std::int64_t interval() const { return interval_; }

  private:
    struct Peer {
        std::string ip;
        int port = 0;
        std::string peer_id;
        bool seeder = false;
        std::int64_t last_seen = 0;
    };
    void Expire(std::map<std::string, Peer>& peers, std::int64_t now) const;

    std::int64_t interval_;
    std::mutex mu_;
    std::map<std::string, std::map<std::string, Peer>> swarms_;  // swarm -> "ip|port" -> peer
};

}  // namespace fwchain::vendor
