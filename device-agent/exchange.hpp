#pragma once
// One bounded metadata exchange with the gateway (check, report; the ledger proof travels in the
// check answer): a cap on the answer, enforced as it streams in, and a deadline on the whole
// exchange, from connecting to the last byte. A hostile gateway can then cost the device at most
// `max_answer` bytes of memory and `deadline` of time (DESIGN.md §3: endless data, slow
// retrieval); the image download has its own limits (fetch.hpp).
#include <string>

#include "common/adapters/http.hpp"
#include "common/core/expected.hpp"

namespace fwchain::device {

using ExchangeLimits = http::ExchangeLimits;
using ExchangeAnswer = http::Reply;

// POSTs `body` (JSON) to url + path. Errors: "answer-too-large" (kTooLarge) as soon as the
// answer passes the cap, "slow-retrieval" (kNetwork) when the deadline passes first, whatever
// the gateway is doing then (connecting, headers, a trickle of body bytes), and
// "gateway-unreachable" (kNetwork) for other transport failures.
Expected<ExchangeAnswer> BoundedPost(const http::Url& url, const std::string& path,
                                     const std::string& body, const ExchangeLimits& limits);

}  // namespace fwchain::device
