#include "vendor-server/torrent.hpp"

#include <filesystem>
#include <iterator>
#include <libtorrent/bdecode.hpp>
#include <libtorrent/bencode.hpp>
#include <libtorrent/create_torrent.hpp>
#include <libtorrent/entry.hpp>
#include <libtorrent/file_storage.hpp>
#include <libtorrent/torrent_info.hpp>
#include <system_error>

#include "common/core/bytes.hpp"

namespace fwchain::vendor {
namespace {

template <typename Digest>
std::string DigestHex(const Digest& d) {
    return ToHex(reinterpret_cast<const std::uint8_t*>(d.data()),
                 static_cast<std::size_t>(d.size()));
}

}  // namespace

int PieceSize(std::uint64_t image_size) {
    // About 128 pieces, 256 KiB to 4 MiB: libtorrent's default (2,048 pieces of 32 KiB for 64
    // MiB) costs the vendor's seeder a request round and a piece record per 32 KiB, and the
    // gateways a hash job each; 128 pieces still spread 20 gateways over different pieces.
    int piece = 256 * 1024;
    while (piece < 4 * 1024 * 1024 && image_size / static_cast<std::uint64_t>(piece) > 128) {
        piece *= 2;
    }
    return piece;
}

Expected<TorrentFile> ReadTorrentInfo(const std::string& bytes) {
    lt::error_code ec;
    lt::torrent_info ti(
        lt::span<char const>(bytes.data(), static_cast<std::ptrdiff_t>(bytes.size())), ec,
        lt::from_span);
    if (ec) return Fail(Errc::kInvalid, "bad-torrent", "torrent does not parse: " + ec.message());
    const auto ih = ti.info_hashes();
    if (!ih.has_v1() || !ih.has_v2()) {
        return Fail(Errc::kInvalid, "bad-torrent", "torrent is not a v1+v2 hybrid");
    }
    return TorrentFile{bytes, DigestHex(ih.v1), DigestHex(ih.v2)};
}

Expected<TorrentFile> MakeTorrent(const std::string& dir, const std::string& name) {
    const std::string path = dir + "/" + name;
    std::error_code fec;
    const auto size = std::filesystem::file_size(path, fec);
    if (fec) return Fail(Errc::kIo, "io", "cannot stat " + path + ": " + fec.message());
    if (size == 0) return Fail(Errc::kInvalid, "empty-image", "cannot make a torrent of 0 bytes");
    lt::file_storage fs;
    fs.add_file(name, static_cast<std::int64_t>(size));
    // Hybrid by default in libtorrent 2.0: v1 pieces + v2 merkle trees.
    lt::create_torrent ct(fs, PieceSize(size));
    ct.set_creator("fwchain vendor-server");
    lt::error_code ec;
    lt::set_piece_hashes(ct, dir, ec);  // reads dir/name
    if (ec) return Fail(Errc::kIo, "torrent", "hashing " + path + ": " + ec.message());
    std::string out;
    lt::bencode(std::back_inserter(out), ct.generate());
    return ReadTorrentInfo(out);
}

Expected<std::string> TorrentWithUrls(const std::string& stored, const std::string& announce_url,
                                      const std::string& web_seed_url) {
    // The identity the signed manifest names; adding URLs must not move it.
    FW_ASSIGN(TorrentFile identity, ReadTorrentInfo(stored));
    lt::error_code ec;
    lt::bdecode_node node = lt::bdecode(
        lt::span<char const>(stored.data(), static_cast<std::ptrdiff_t>(stored.size())), ec);
    const lt::bdecode_node info =
        !ec && node.type() == lt::bdecode_node::dict_t ? node.dict_find_dict("info") : node;
    if (ec || node.type() != lt::bdecode_node::dict_t || !info) {
        return Fail(Errc::kInvalid, "bad-torrent", "stored torrent does not parse");
    }
    lt::entry e(node);
    // lt::entry re-encodes what it holds (sorted, one value per key); the info dictionary is
    // copied byte for byte instead, so the infohashes are those of the stored bytes. Found by
    // fuzzing: a torrent naming `info` twice was served with another info dictionary.
    const auto section = info.data_section();
    e["info"] = lt::entry::preformatted_type(section.begin(), section.end());
    e["announce"] = announce_url;
    lt::entry::list_type seeds;
    seeds.emplace_back(web_seed_url);
    e["url-list"] = seeds;
    std::string out;
    lt::bencode(std::back_inserter(out), e);
    auto served = ReadTorrentInfo(out);
    if (!served || served->infohash_v1 != identity.infohash_v1 ||
        served->infohash_v2 != identity.infohash_v2) {
        return Fail(Errc::kInvalid, "bad-torrent",
                    "adding URLs would change the stored torrent's infohashes");
    }
    return out;
}

}  // namespace fwchain::vendor
