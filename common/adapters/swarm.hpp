#pragma once
// BitTorrent for the gateway and the vendor (DESIGN.md §6, docs/architecture.md "The swarm"):
// the vendor seeds every release handing out each piece about once (what BEP 16 super-seeding
// aims at; the gateways pass it on), gateways fetch from each other and the vendor, use the
// vendor's web seed only once the peers make no progress, and keep seeding every cached image
// within their owner's upload cap and time windows. libtorrent stays inside swarm.cpp; this header
// has none of its types.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/core/bandwidth.hpp"
#include "common/core/expected.hpp"

namespace fwchain {

// Outside its upload windows a swarm still downloading uploads this much at most: its piece
// requests and haves (BitTorrent's own messages count against the cap).
inline constexpr std::int64_t kOffWindowUploadLimit = 16 * 1024;

struct SwarmOptions {
    std::string listen = "0.0.0.0:7430";  // BitTorrent listen interface(s), libtorrent syntax
    // Upload cap in bytes/s while uploading is allowed (0 = unlimited). With a cap or windows it
    // applies to every peer, LAN and loopback ones included.
    std::int64_t upload_limit = 0;
    // Local-time windows in which the swarm uploads; none = always. Outside them complete
    // torrents are paused (no seeding) and a download in progress uploads at most
    // kOffWindowUploadLimit (or the cap, when lower).
    std::vector<TimeWindow> upload_windows;
    // Fetch: the torrent's web seeds (the vendor's HTTP image URL) are added only after this many
    // seconds without progress from BitTorrent peers, so the vendor's HTTP is a fallback and
    // never races the swarm for pieces.
    std::int64_t web_seed_delay_s = 10;
    // The vendor's seeder: each piece goes to the first gateway that asks for it; the others
    // are refused it (BEP 6 reject, BEP 54 don't-have) and get it from the gateways, unless its
    // taker leaves or they wait for it too long. The seeder never connects out.
    bool seed_each_piece_once = false;
    // The windows' clock, minutes after local midnight (tests); null = the system's local time.
    std::function<int()> minute_of_day;
};

struct SwarmStats {
    // Payload bytes since start, over every torrent the session has held (also removed ones):
    // a fetch's uploads are kept across its handover to seeding.
    std::int64_t payload_downloaded = 0;
    std::int64_t payload_uploaded = 0;
    // Bytes downloaded more than once or failing their hash check, during fetches.
    std::int64_t wasted_bytes = 0;
    int torrents = 0;
    bool upload_allowed = true;  // inside an upload window (or none configured)
};

class Swarm {
  public:
    static Expected<std::unique_ptr<Swarm>> Start(const SwarmOptions& opts);
    ~Swarm();
    Swarm(const Swarm&) = delete;
    Swarm& operator=(const Swarm&) = delete;

    // Downloads the single-file torrent (bencoded bytes, named by its SHA-256) into `dir`.
    // Returns once libtorrent has verified every piece, or fails after `timeout` without
    // progress or when `cancel` is set. On success the torrent stays in the session (seeding from
    // `dir`, its counters running on): call Handover() to move the file to its final place. On
    // failure it is removed (its counters are kept in Stats()).
    Status Fetch(const std::string& torrent, const std::string& dir, std::chrono::seconds timeout,
                 const std::atomic<bool>& cancel);
    // Moves a fetched torrent's file without taking it out of the session or pausing it (its
    // peers stay connected): runs `move` (which verifies the file and renames it into `dir`) and
    // points the torrent at `dir`, where it seeds on. When `move` fails the torrent is removed
    // and its error returned.
    Status Handover(const std::string& torrent, const std::string& dir,
                    const std::function<Status()>& move);
    // Seeds a complete file in `dir` (no re-hash: the caller verified its SHA-256), announcing to
    // `trackers` besides the torrent's own. A torrent already in the session is left as it is.
    Status Seed(const std::string& torrent, const std::string& dir,
                const std::vector<std::string>& trackers = {});
    // The TCP port libtorrent listens on (0 until it is known).
    int port() const;
    SwarmStats Stats() const;

  private:
    struct Impl;
    explicit Swarm(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace fwchain
