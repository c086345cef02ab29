#pragma once
// A libtorrent session's settings for tests on loopback: no DHT, LSD or port mapping (peers come
// from the tracker or the web seed only), TCP only, several peers per IP (all are 127.0.0.1).
// The swarm of the gateway and the vendor (common/adapters/swarm.cpp) uses the same choices.
#include <libtorrent/settings_pack.hpp>

namespace fwchain::test {

inline libtorrent::settings_pack LoopbackTorrentSettings() {
    namespace lt = libtorrent;
    lt::settings_pack sp;
    sp.set_bool(lt::settings_pack::enable_dht, false);
    sp.set_bool(lt::settings_pack::enable_lsd, false);
    sp.set_bool(lt::settings_pack::enable_upnp, false);
    sp.set_bool(lt::settings_pack::enable_natpmp, false);
    sp.set_bool(lt::settings_pack::enable_outgoing_utp, false);
    sp.set_bool(lt::settings_pack::enable_incoming_utp, false);
    sp.set_bool(lt::settings_pack::allow_multiple_connections_per_ip, true);
    sp.set_str(lt::settings_pack::listen_interfaces, "127.0.0.1:0");
    return sp;
}

}  // namespace fwchain::test
