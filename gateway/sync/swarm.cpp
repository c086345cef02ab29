#include "gateway/sync/swarm.hpp"

#include <libtorrent/add_torrent_params.hpp>
#include <libtorrent/alert_types.hpp>
#include <libtorrent/session.hpp>
#include <libtorrent/settings_pack.hpp>
#include <libtorrent/torrent_handle.hpp>
#include <libtorrent/torrent_info.hpp>
#include <libtorrent/torrent_status.hpp>
#include <mutex>
#include <thread>

#include "common/adapters/log.hpp"

namespace fwchain::gateway {

struct Swarm::Impl {
    std::unique_ptr<lt::session> session;
    std::atomic<int> port{0};
    // Bytes downloaded by torrents already removed from the session (Fetch removes them).
    std::atomic<std::int64_t> fetched_bytes{0};
    std::mutex mu;  // serialises add/remove against Stats()
};

Swarm::Swarm(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Swarm::~Swarm() = default;

Expected<std::unique_ptr<Swarm>> Swarm::Start(const SwarmOptions& opts) {
    auto impl = std::make_unique<Impl>();
    lt::settings_pack sp;
    // Gateways find each other through the vendor's tracker only: no DHT, LSD or port mapping
    // (a gateway is someone's router). TCP only: uTP's congestion control throttles loopback
    // and LAN transfers for no gain here.
    sp.set_str(lt::settings_pack::listen_interfaces, opts.listen);
    sp.set_bool(lt::settings_pack::enable_dht, false);
    sp.set_bool(lt::settings_pack::enable_lsd, false);
    sp.set_bool(lt::settings_pack::enable_upnp, false);
    sp.set_bool(lt::settings_pack::enable_natpmp, false);
    sp.set_bool(lt::settings_pack::enable_outgoing_utp, false);
    sp.set_bool(lt::settings_pack::enable_incoming_utp, false);
    sp.set_bool(lt::settings_pack::allow_multiple_connections_per_ip, true);
    sp.set_int(lt::settings_pack::alert_mask,
               lt::alert_category::error | lt::alert_category::status);
    try {
        impl->session = std::make_unique<lt::session>(sp);
    } catch (const std::exception& e) {
        return Fail(Errc::kIo, "bittorrent", std::string("cannot start libtorrent: ") + e.what());
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
}  // namespace

Status Swarm::Fetch(const std::string& torrent, const std::string& dir,
                    std::chrono::seconds timeout, const std::atomic<bool>& cancel) {
    FW_ASSIGN(auto ti, ParseTorrent(torrent));
    lt::add_torrent_params atp;
    atp.ti = ti;
    atp.save_path = dir;
    lt::error_code ec;
    lt::torrent_handle h;
    {
        std::lock_guard lock(impl_->mu);
        h = impl_->session->add_torrent(std::move(atp), ec);
    }
    if (ec) return Fail(Errc::kIo, "bittorrent", "cannot add torrent: " + ec.message());

    auto last_progress = std::chrono::steady_clock::now();
    std::int64_t last_done = -1;
    Status result;
    for (;;) {
        lt::torrent_status st = h.status();
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
        if (cancel) {
            result = Fail(Errc::kNetwork, "cancelled", "stopping");
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // status polling
    }
    impl_->fetched_bytes += h.status().total_payload_download;
    std::lock_guard lock(impl_->mu);
    impl_->session->remove_torrent(h);
    return result;
}

Status Swarm::Seed(const std::string& torrent, const std::string& dir) {
    FW_ASSIGN(auto ti, ParseTorrent(torrent));
    lt::add_torrent_params atp;
    atp.ti = ti;
    atp.save_path = dir;
    atp.flags |= lt::torrent_flags::seed_mode;  // verified by SHA-256 before it was cached
    lt::error_code ec;
    std::lock_guard lock(impl_->mu);
    impl_->session->add_torrent(std::move(atp), ec);
    if (ec) return Fail(Errc::kIo, "bittorrent", "cannot seed: " + ec.message());
    return {};
}

SwarmStats Swarm::Stats() const {
    std::lock_guard lock(impl_->mu);
    SwarmStats s;
    s.payload_downloaded = impl_->fetched_bytes;
    for (const auto& h : impl_->session->get_torrents()) {
        lt::torrent_status st = h.status();
        s.payload_downloaded += st.all_time_download;
        s.payload_uploaded += st.all_time_upload;
        ++s.torrents;
    }
    return s;
}

}  // namespace fwchain::gateway
