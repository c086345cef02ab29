#pragma once
// Name rules shared by every program, so that what one accepts the others do not refuse.
#include <string_view>

namespace fwchain {

// A product name (release manifests, ledger release recipients, gateway file names, device.json):
// 1..64 characters of [a-z0-9._-], starting with a letter or digit. Lowercase only: the vendor
// must never publish a product that gateways refuse (docs/protocol.md "Names").
inline constexpr std::string_view kProductNameRule =
    "1-64 characters of [a-z0-9._-] starting with a lowercase letter or digit";
bool ValidProductName(std::string_view name);

}  // namespace fwchain
