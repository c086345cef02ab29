#include "common/adapters/swarm.hpp"

#include <time.h>

#include <algorithm>
#include <condition_variable>
#include <initializer_list>
#include <libtorrent/add_torrent_params.hpp>
#include <libtorrent/address.hpp>
#include <libtorrent/alert_types.hpp>
#include <libtorrent/bdecode.hpp>
#include <libtorrent/extensions.hpp>
#include <libtorrent/ip_filter.hpp>
#include <libtorrent/peer_connection_handle.hpp>
#include <libtorrent/peer_request.hpp>
#include <libtorrent/session.hpp>
#include <libtorrent/session_stats.hpp>
#include <libtorrent/settings_pack.hpp>
#include <libtorrent/torrent_flags.hpp>
#include <libtorrent/torrent_handle.hpp>
#include <libtorrent/torrent_info.hpp>
#include <libtorrent/torrent_status.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "common/adapters/log.hpp"

namespace fwchain {
namespace {

// The vendor's seeder hands out each piece about once (BEP 16's aim) without libtorrent 2.0's
// super-seeding, whose first pieces only come from a 10-second tick (it writes its bootstrap
// HAVEs during the handshake, where they are dropped). The seeder shows every piece (have_all)
// and serves a piece to the first gateway that asks for it. Another gateway asking for a piece
// one already took is refused (a BEP 6 reject, so that it asks elsewhere at once) and told the
// vendor no longer has it (BEP 54 lt_donthave), so it gets the piece from the gateways instead.
// The piece is shown to it again (a HAVE) when its taker leaves, or after kPatience if the
// gateway still lacks it (it may not be connected to the taker). All callbacks run on
// libtorrent's network thread.
using Clock = std::chrono::steady_clock;
constexpr auto kPatience = std::chrono::seconds(5);
struct PassOnTorrent;

class PassOnPeer : public lt::peer_plugin {
  public:
    PassOnPeer(const lt::peer_connection_handle& pc, PassOnTorrent* torrent)
        : pc_(pc), torrent_(torrent) {}
    bool on_handshake(lt::span<char const> reserved) override {
        fast_ = reserved.size() >= 8 && (reserved[7] & 0x04) != 0;  // BEP 6
        return true;
    }
    bool on_extension_handshake(const lt::bdecode_node& h) override {
        const lt::bdecode_node m = h.dict_find_dict("m");
        if (m) donthave_id_ = static_cast<int>(m.dict_find_int_value("lt_donthave", 0));
        return true;
    }
    bool on_request(const lt::peer_request& r) override;
    void on_disconnect(const lt::error_code&) override;

    // Shows `piece` again, once it was hidden from this peer and it still lacks it.
    void Reveal(int piece) {
        hidden_.erase(piece);
        allowed_.insert(piece);
        if (pc_.has_piece(lt::piece_index_t(piece))) return;
        Send({4}, {static_cast<std::uint32_t>(piece)});  // HAVE
    }

    std::map<int, Clock::time_point> hidden_;  // pieces refused to this peer, since when
    std::set<int> allowed_;                    // pieces shown again: served
    bool fast_ = false;

  private:
    // A message: `head` bytes after the length, then big-endian 32-bit fields.
    void Send(std::initializer_list<std::uint8_t> head,
              std::initializer_list<std::uint32_t> fields) {
        std::string msg(4, '\0');
        for (std::uint8_t b : head) msg.push_back(static_cast<char>(b));
        for (std::uint32_t f : fields) {
            for (int b = 0; b < 4; ++b) msg.push_back(static_cast<char>(f >> (24 - 8 * b)));
        }
        const auto len = static_cast<std::uint32_t>(msg.size() - 4);
        for (int b = 0; b < 4; ++b)
            msg[static_cast<std::size_t>(b)] = static_cast<char>(len >> (24 - 8 * b));
        pc_.send_buffer(msg.data(), static_cast<int>(msg.size()));
    }
    void Refuse(const lt::peer_request& r) {
        const auto piece = static_cast<std::uint32_t>(static_cast<int>(r.piece));
        Send({16},
             {piece, static_cast<std::uint32_t>(r.start), static_cast<std::uint32_t>(r.length)});
        if (donthave_id_ > 0 && !hidden_.count(static_cast<int>(piece))) {
            Send({20, static_cast<std::uint8_t>(donthave_id_)}, {piece});  // lt_donthave
        }
        hidden_.emplace(static_cast<int>(piece), Clock::now());
    }

    lt::peer_connection_handle pc_;
    PassOnTorrent* torrent_;
    int donthave_id_ = 0;
};

struct PassOnTorrent : lt::torrent_plugin {
    explicit PassOnTorrent(int pieces) : taker(static_cast<std::size_t>(pieces), nullptr) {}
    std::shared_ptr<lt::peer_plugin> new_connection(const lt::peer_connection_handle& pc) override {
        if (pc.type() != lt::connection_type::bittorrent) return nullptr;
        auto peer = std::make_shared<PassOnPeer>(pc, this);
        peers.push_back(peer);
        return peer;
    }
    // Whether `who` may have piece `p` from the vendor now.
    bool Allow(PassOnPeer* who, int p) {
        if (p < 0 || static_cast<std::size_t>(p) >= taker.size()) return true;
        PassOnPeer*& t = taker[static_cast<std::size_t>(p)];
        if (t == nullptr) t = who;
        return t == who || !who->fast_ || who->allowed_.count(p) > 0;
    }
    void Gone(PassOnPeer* who) {
        for (auto& t : taker) {
            if (t == who) t = nullptr;
        }
        peers.erase(std::remove_if(peers.begin(), peers.end(),
                                   [who](const std::weak_ptr<PassOnPeer>& w) {
                                       auto p = w.lock();
                                       return !p || p.get() == who;
                                   }),
                    peers.end());
    }
    // Once a second: show hidden pieces again whose taker left or that took too long.
    void tick() override {
        const auto now = Clock::now();
        for (const auto& w : peers) {
            auto peer = w.lock();
            if (!peer) continue;
            std::vector<int> due;
            for (const auto& [piece, since] : peer->hidden_) {
                if (taker[static_cast<std::size_t>(piece)] == nullptr || now - since > kPatience) {
                    due.push_back(piece);
                }
            }
            for (int piece : due) peer->Reveal(piece);
        }
    }

    std::vector<PassOnPeer*> taker;  // the gateway each piece went to first
    std::vector<std::weak_ptr<PassOnPeer>> peers;
};

bool PassOnPeer::on_request(const lt::peer_request& r) {
    if (torrent_->Allow(this, static_cast<int>(r.piece))) return false;  // libtorrent serves it
    Refuse(r);
    return true;
}

void PassOnPeer::on_disconnect(const lt::error_code&) { torrent_->Gone(this); }

}  // namespace

struct Swarm::Impl {
    SwarmOptions opts;
    std::unique_ptr<lt::session> session;
    std::atomic<int> port{0};
    // Serialises adding, moving, pausing and removing torrents against each other and Stats().
    mutable std::mutex mu;
    // The session's payload counters, last read (libtorrent's per-torrent counters restart when
    // a torrent is paused, lag by a second and end with a removed torrent; the session's do not).
    std::int64_t downloaded = 0;
    std::int64_t uploaded = 0;
    std::int64_t wasted = 0;
    int recv_idx = -1, sent_idx = -1, redundant_idx = -1, failed_idx = -1;
    bool upload_allowed = true;
    // The upload-window thread.
    std::thread windows;
    std::condition_variable stop_cv;
    bool stopping = false;

    ~Impl() {
        {
            std::lock_guard lock(mu);
            stopping = true;
        }
        stop_cv.notify_all();
        if (windows.joinable()) windows.join();
    }

    int MinuteOfDay() const {
        if (opts.minute_of_day) return opts.minute_of_day();
        const time_t now = ::time(nullptr);
        struct tm local {};
        ::localtime_r(&now, &local);
        return local.tm_hour * 60 + local.tm_min;
    }

    // Takes a torrent out of the session (the session's counters keep what it moved). Caller
    // holds mu.
    void RemoveLocked(const lt::torrent_handle& h) { session->remove_torrent(h); }

    // Reads the session's counters: asks for a session_stats_alert and waits for it (a few ms;
    // this is the only place alerts are popped after Start). Caller holds mu.
    void ReadCountersLocked() {
        session->post_session_stats();
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (std::chrono::steady_clock::now() < deadline) {
            session->wait_for_alert(std::chrono::milliseconds(100));
            std::vector<lt::alert*> alerts;
            session->pop_alerts(&alerts);
            for (lt::alert* a : alerts) {
                auto* stats = lt::alert_cast<lt::session_stats_alert>(a);
                if (stats == nullptr) continue;
                const auto c = stats->counters();
                downloaded = c[recv_idx];
                uploaded = c[sent_idx];
                wasted = c[redundant_idx] + c[failed_idx];
                return;
            }
        }
        // No answer in time: the last figures stand.
    }

    // Inside a window: the cap (or none); outside: complete torrents pause and what still
    // downloads uploads only its own protocol messages. Caller holds mu.
    void ApplyWindowLocked(bool allowed) {
        std::int64_t limit = opts.upload_limit;
        if (!allowed) {
            limit = limit > 0 ? std::min(limit, kOffWindowUploadLimit) : kOffWindowUploadLimit;
        }
        lt::settings_pack sp;
        sp.set_int(lt::settings_pack::upload_rate_limit,
                   static_cast<int>(std::min<std::int64_t>(limit, 1 << 30)));
        session->apply_settings(std::move(sp));
        for (const auto& h : session->get_torrents()) {
            const lt::torrent_status st = h.status();
            if (!st.is_seeding) continue;
            if (allowed) {
                h.resume();
            } else {
                h.pause();
            }
        }
        if (allowed != upload_allowed) {
            spdlog::info("BitTorrent uploads {}", allowed ? "on (inside an upload window)"
                                                          : "off (outside the upload windows)");
        }
        upload_allowed = allowed;
    }

    void RunWindows() {
        std::unique_lock lock(mu);
        while (!stopping) {
            const bool allowed = InWindows(opts.upload_windows, MinuteOfDay());
            if (allowed != upload_allowed) ApplyWindowLocked(allowed);
            // Windows are whole minutes: look again at the next minute (sooner for a test clock).
            const auto wait =
                opts.minute_of_day
                    ? std::chrono::milliseconds(200)
                    : std::chrono::milliseconds(60'000 - (::time(nullptr) % 60) * 1000);
            stop_cv.wait_for(lock, wait, [this] { return stopping; });
        }
    }

    lt::torrent_handle Find(const lt::torrent_info& ti) const {
        const auto ih = ti.info_hashes();
        return session->find_torrent(ih.has_v1() ? ih.v1 : ih.get_best());
    }
};

Swarm::Swarm(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Swarm::~Swarm() = default;

Expected<std::unique_ptr<Swarm>> Swarm::Start(const SwarmOptions& opts) {
    auto impl = std::make_unique<Impl>();
    impl->opts = opts;
    lt::settings_pack sp;
    // Peers come from the vendor's tracker only: no DHT, LSD or port mapping (a gateway is
    // someone's router). TCP only: uTP's congestion control throttles loopback and LAN
    // transfers for no gain here.
    sp.set_str(lt::settings_pack::listen_interfaces, opts.listen);
    sp.set_bool(lt::settings_pack::enable_dht, false);
    sp.set_bool(lt::settings_pack::enable_lsd, false);
    sp.set_bool(lt::settings_pack::enable_upnp, false);
    sp.set_bool(lt::settings_pack::enable_natpmp, false);
    sp.set_bool(lt::settings_pack::enable_outgoing_utp, false);
    sp.set_bool(lt::settings_pack::enable_incoming_utp, false);
    sp.set_bool(lt::settings_pack::allow_multiple_connections_per_ip, true);
    // End-game requests only once every block is requested: fewer bytes downloaded twice.
    sp.set_bool(lt::settings_pack::strict_end_game_mode, true);
    // The vendor's seeder tells a gateway it lacks the pieces it handed to others (lt_donthave):
    // the gateway may then want nothing from it for a while, and libtorrent would close the
    // connection as redundant (waiting a minute for the tracker to name the vendor again).
    sp.set_bool(lt::settings_pack::close_redundant_connections, false);
    if (opts.seed_each_piece_once) {
        // The vendor's seeder unchokes everyone (what it serves is bounded per piece, not per
        // peer). It asks the tracker for no peers: gateways connect to its port, it never
        // connects out (one port to open in the vendor's firewall, one port whose traffic is the
        // vendor's egress).
        sp.set_int(lt::settings_pack::unchoke_slots_limit, -1);
        sp.set_int(lt::settings_pack::num_want, 0);
    }
    sp.set_int(lt::settings_pack::alert_mask,
               lt::alert_category::error | lt::alert_category::status);
    const bool capped = opts.upload_limit > 0 || !opts.upload_windows.empty();
    if (opts.upload_limit > 0) {
        sp.set_int(lt::settings_pack::upload_rate_limit,
                   static_cast<int>(std::min<std::int64_t>(opts.upload_limit, 1 << 30)));
    }
    try {
        impl->session = std::make_unique<lt::session>(sp);
    } catch (const std::exception& e) {
        return Fail(Errc::kIo, "bittorrent", std::string("cannot start libtorrent: ") + e.what());
    }
    if (capped) {
        // libtorrent exempts LAN peers from the global rate limits: a cap is the owner's uplink,
        // whoever the peers are, so every address is in the global peer class.
        lt::ip_filter classes;
        const std::uint32_t global =
            1u << static_cast<std::uint32_t>(lt::session::global_peer_class_id);
        classes.add_rule(lt::make_address("0.0.0.0"), lt::make_address("255.255.255.255"), global);
        classes.add_rule(lt::make_address("::"),
                         lt::make_address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), global);
        impl->session->set_peer_class_filter(classes);
    }
    // The listen port is known from listen_succeeded_alert, not from the settings.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (impl->port == 0 && std::chrono::steady_clock::now() < deadline) {
        impl->session->wait_for_alert(std::chrono::milliseconds(100));
        std::vector<lt::alert*> alerts;
        impl->session->pop_alerts(&alerts);
        for (lt::alert* a : alerts) {
            if (auto* ok = lt::alert_cast<lt::listen_succeeded_alert>(a)) {
                if (ok->socket_type == lt::socket_type_t::tcp) impl->port = ok->port;
            } else if (auto* bad = lt::alert_cast<lt::listen_failed_alert>(a)) {
                return Fail(Errc::kIo, "bittorrent",
                            "cannot listen on " + opts.listen + ": " + bad->error.message());
            }
        }
    }
    if (impl->port == 0) {
        return Fail(Errc::kIo, "bittorrent", "libtorrent did not report a listen port");
    }
    impl->recv_idx = lt::find_metric_idx("net.recv_payload_bytes");
    impl->sent_idx = lt::find_metric_idx("net.sent_payload_bytes");
    impl->redundant_idx = lt::find_metric_idx("net.recv_redundant_bytes");
    impl->failed_idx = lt::find_metric_idx("net.recv_failed_bytes");
    if (impl->recv_idx < 0 || impl->sent_idx < 0 || impl->redundant_idx < 0 ||
        impl->failed_idx < 0) {
        return Fail(Errc::kInternal, "bittorrent", "libtorrent lacks its payload counters");
    }
    if (!opts.upload_windows.empty()) {
        {
            std::lock_guard lock(impl->mu);
            impl->ApplyWindowLocked(InWindows(opts.upload_windows, impl->MinuteOfDay()));
        }
        Impl* raw = impl.get();
        impl->windows = std::thread([raw] { raw->RunWindows(); });
    }
    return std::unique_ptr<Swarm>(new Swarm(std::move(impl)));
}

int Swarm::port() const { return impl_->port; }

namespace {
Expected<std::shared_ptr<lt::torrent_info>> ParseTorrent(const std::string& bytes) {
    lt::error_code ec;
    auto ti = std::make_shared<lt::torrent_info>(bytes, ec, lt::from_span);
    if (ec) return Fail(Errc::kInvalid, "bad-torrent", "torrent does not parse: " + ec.message());
    if (ti->num_files() != 1) {
        return Fail(Errc::kInvalid, "bad-torrent", "an image torrent holds exactly one file");
    }
    return ti;
}

// Torrents are never auto-managed: libtorrent's queue would pause all but a few seeds, and would
// resume what the upload windows or a handover paused.
void ManualStart(lt::add_torrent_params& atp, bool paused) {
    atp.flags &= ~lt::torrent_flags::auto_managed;
    if (paused) {
        atp.flags |= lt::torrent_flags::paused;
    } else {
        atp.flags &= ~lt::torrent_flags::paused;
    }
}
}  // namespace

Status Swarm::Fetch(const std::string& torrent, const std::string& dir,
                    std::chrono::seconds timeout, const std::atomic<bool>& cancel) {
    FW_ASSIGN(auto ti, ParseTorrent(torrent));
    // The web seeds wait until the peers stall: a web seed racing the swarm for pieces is what
    // made the vendor send each gateway its own copy (and gateways download up to 1.4x an image).
    std::vector<std::string> web_seeds;
    for (const auto& ws : ti->web_seeds()) web_seeds.push_back(ws.url);
    ti->set_web_seeds({});
    lt::add_torrent_params atp;
    atp.ti = ti;
    atp.save_path = dir;
    ManualStart(atp, false);
    lt::error_code ec;
    lt::torrent_handle h;
    {
        std::lock_guard lock(impl_->mu);
        h = impl_->session->add_torrent(std::move(atp), ec);
    }
    if (ec) return Fail(Errc::kIo, "bittorrent", "cannot add torrent: " + ec.message());

    const auto start = std::chrono::steady_clock::now();
    auto last_progress = start;
    std::int64_t last_done = -1;
    bool web_seeded = web_seeds.empty();
    Status result;
    lt::torrent_status st;
    for (;;) {
        st = h.status();
        if (st.is_seeding) break;
        if (st.errc) {
            result = Fail(Errc::kNetwork, "bittorrent", "torrent error: " + st.errc.message());
            break;
        }
        const auto now = std::chrono::steady_clock::now();
        if (st.total_wanted_done != last_done) {
            last_done = st.total_wanted_done;
            last_progress = now;
        } else if (now - last_progress > timeout) {
            result = Fail(Errc::kNetwork, "bittorrent-stalled",
                          "no BitTorrent progress for " + std::to_string(timeout.count()) + " s (" +
                              std::to_string(st.num_peers) + " peers)");
            break;
        }
        if (!web_seeded &&
            now - last_progress >= std::chrono::seconds(impl_->opts.web_seed_delay_s)) {
            spdlog::info("no progress from {} BitTorrent peer(s) for {} s: adding the web seed",
                         st.num_peers, impl_->opts.web_seed_delay_s);
            for (const auto& url : web_seeds) h.add_url_seed(url);
            web_seeded = true;
        }
        if (cancel) {
            result = Fail(Errc::kNetwork, "cancelled", "stopping");
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // status polling
    }
    std::lock_guard lock(impl_->mu);
    if (!result) {
        impl_->RemoveLocked(h);
        return result;
    }
    const auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start);
    spdlog::info(
        "BitTorrent fetch of {} done in {:.1f} s: {} B downloaded, {} B uploaded, {} B "
        "wasted{}",
        ti->name(), secs.count(), st.total_payload_download, st.total_payload_upload,
        st.total_redundant_bytes + st.total_failed_bytes,
        web_seeded && !web_seeds.empty() ? " (web seed used)" : "");
    return {};
}

Status Swarm::Handover(const std::string& torrent, const std::string& dir,
                       const std::function<Status()>& move) {
    FW_ASSIGN(auto ti, ParseTorrent(torrent));
    std::lock_guard lock(impl_->mu);
    lt::torrent_handle h = impl_->Find(*ti);
    if (!h.is_valid()) {
        return Fail(Errc::kNotFound, "bittorrent", "no such torrent in the session: " + ti->name());
    }
    // Not paused: pausing disconnects every peer, and a peer that was just disconnected is not
    // connected again for a minute (libtorrent's min_reconnect_time), which kept the gateways
    // that needed this one's pieces waiting. libtorrent keeps the file open while `move`
    // verifies and renames it (an open descriptor survives the rename), and move_storage then
    // reopens it at its new place.
    Status moved = move();
    if (!moved) {
        impl_->RemoveLocked(h);
        return moved;
    }
    const std::string before = h.status(lt::torrent_handle::query_save_path).save_path;
    // The file is at `dir` already: libtorrent only has to look for it there (the old one is
    // gone, which move_storage ignores).
    h.move_storage(dir, lt::move_flags_t::always_replace_files);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (;;) {
        const lt::torrent_status st = h.status(lt::torrent_handle::query_save_path);
        if (st.save_path != before) break;
        if (st.errc || std::chrono::steady_clock::now() > deadline) {
            // Seed it afresh from `dir` (its counters so far are kept).
            spdlog::warn("libtorrent did not move {} to {} ({}); re-adding it", ti->name(), dir,
                         st.errc ? st.errc.message() : "timed out");
            impl_->RemoveLocked(h);
            lt::add_torrent_params atp;
            atp.ti = ti;
            atp.save_path = dir;
            atp.flags |= lt::torrent_flags::seed_mode;
            ManualStart(atp, !impl_->upload_allowed);
            lt::error_code ec;
            impl_->session->add_torrent(std::move(atp), ec);
            if (ec) return Fail(Errc::kIo, "bittorrent", "cannot seed: " + ec.message());
            return {};
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // a rename, done at once
    }
    if (!impl_->upload_allowed) h.pause();  // outside the upload windows: no seeding
    return {};
}

Status Swarm::Seed(const std::string& torrent, const std::string& dir,
                   const std::vector<std::string>& trackers) {
    FW_ASSIGN(auto ti, ParseTorrent(torrent));
    std::lock_guard lock(impl_->mu);
    if (impl_->Find(*ti).is_valid()) return {};
    lt::add_torrent_params atp;
    atp.ti = ti;
    atp.save_path = dir;
    atp.trackers = trackers;
    atp.flags |= lt::torrent_flags::seed_mode;  // verified by SHA-256 before it was cached
    if (impl_->opts.seed_each_piece_once) {
        const int pieces = ti->num_pieces();
        atp.extensions.push_back([pieces](const lt::torrent_handle&, lt::client_data_t) {
            return std::make_shared<PassOnTorrent>(pieces);
        });
    }
    ManualStart(atp, !impl_->upload_allowed);
    lt::error_code ec;
    impl_->session->add_torrent(std::move(atp), ec);
    if (ec) return Fail(Errc::kIo, "bittorrent", "cannot seed: " + ec.message());
    return {};
}

SwarmStats Swarm::Stats() const {
    std::lock_guard lock(impl_->mu);
    impl_->ReadCountersLocked();
    SwarmStats s;
    s.payload_downloaded = impl_->downloaded;
    s.payload_uploaded = impl_->uploaded;
    s.wasted_bytes = impl_->wasted;
    s.upload_allowed = impl_->upload_allowed;
    s.torrents = static_cast<int>(impl_->session->get_torrents().size());
    return s;
}

}  // namespace fwchain
