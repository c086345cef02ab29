// .torrent files as the vendor reads its stored ones (ReadTorrentInfo) and rewrites them with
// its URLs (TorrentWithUrls); libtorrent parses the bencoding.
#include "vendor-server/torrent.hpp"

#include <string>

#include "tests/fuzz/fuzz.hpp"

FWCHAIN_FUZZ_TARGET(torrent) {
    using namespace fwchain;
    const std::string bytes(fuzz::Text(data, size));
    auto info = vendor::ReadTorrentInfo(bytes);
    auto with =
        vendor::TorrentWithUrls(bytes, "http://127.0.0.1/announce", "http://127.0.0.1/v1/images/x");
    if (!info || !with) return 0;
    FWCHAIN_FUZZ_CHECK(info->infohash_v1.size() == 40 || info->infohash_v1.empty());
    // Adding URLs leaves the info dictionary, so the infohashes, as they were.
    auto again = vendor::ReadTorrentInfo(*with);
    FWCHAIN_FUZZ_CHECK(again);
    FWCHAIN_FUZZ_CHECK(again->infohash_v1 == info->infohash_v1);
    FWCHAIN_FUZZ_CHECK(again->infohash_v2 == info->infohash_v2);
    return 0;
}
