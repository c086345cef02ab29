#include "device-agent/exchange.hpp"

namespace fwchain::device {

Expected<ExchangeAnswer> BoundedPost(const http::Url& url, const std::string& path,
                                     const std::string& body, const ExchangeLimits& limits) {
    auto reply = http::BoundedExchange(url, "POST", path, &body, limits);
    if (!reply && reply.error().reason == "unreachable") {
        return Fail(Errc::kNetwork, "gateway-unreachable", reply.error().message);
    }
    return reply;
}

}  // namespace fwchain::device
