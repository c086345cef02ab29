#pragma once
// .torrent files for releases (libtorrent stays inside torrent.cpp). A release's torrent is a
// v1+v2 hybrid made once at publish time and stored without tracker or web seed: those are not
// part of the info dictionary (the infohashes in the manifest do not depend on them), so `serve`
// adds its own public URL to each copy it hands out.
#include <cstdint>
#include <string>

#include "common/core/expected.hpp"

namespace fwchain::vendor {

struct TorrentFile {
    std::string bytes;        // bencoded .torrent (info dict + piece layers, no announce)
    std::string infohash_v1;  // 40 hex (SHA-1 of the info dict)
    std::string infohash_v2;  // 64 hex (SHA-256 of the info dict)
};

// The piece size of an image's torrent: a power of two giving about 128 pieces, within 256 KiB
// and 4 MiB.
int PieceSize(std::uint64_t image_size);

// Hashes the file dir/name into a hybrid torrent whose single file is `name` (for images: the
// SHA-256 hex, so a downloader's file is content-addressed too).
Expected<TorrentFile> MakeTorrent(const std::string& dir, const std::string& name);

// The stored torrent with `announce` = announce_url and `url-list` = [web_seed_url] (BEP 19: a
// URL naming the file itself, for a single-file torrent). The info dictionary is kept byte for
// byte; "bad-torrent" when the stored bytes do not parse or the infohashes would change.
Expected<std::string> TorrentWithUrls(const std::string& stored, const std::string& announce_url,
                                      const std::string& web_seed_url);

// The infohashes of a bencoded torrent (for tests and checks).
Expected<TorrentFile> ReadTorrentInfo(const std::string& bytes);

}  // namespace fwchain::vendor
