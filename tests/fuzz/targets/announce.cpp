// The vendor's BitTorrent tracker: GET /announce query strings (the raw target, binary %XX
// bytes included), then the announce itself on a tracker with other peers.
#include "tests/fuzz/fuzz.hpp"
#include "vendor-server/tracker.hpp"

FWCHAIN_FUZZ_TARGET(announce) {
    using namespace fwchain;
    std::string error;
    auto req = vendor::ParseAnnounceQuery(fuzz::Text(data, size), &error);
    FWCHAIN_FUZZ_CHECK(req || !error.empty());
    if (!req) return 0;
    FWCHAIN_FUZZ_CHECK(req->info_hash.size() == 20);
    vendor::Tracker tracker(1800);
    vendor::AnnounceRequest other;
    other.info_hash = req->info_hash;
    other.peer_id = std::string(20, 'p');
    other.ip = "::1";
    other.port = 6881;
    (void)tracker.Announce(req->info_hash, other, 1800000000);
    req->ip = "127.0.0.1";
    const std::string answer = tracker.Announce(req->info_hash, *req, 1800000000);
    FWCHAIN_FUZZ_CHECK(!answer.empty() && answer.front() == 'd' && answer.back() == 'e');
    return 0;
}
