// Benchmark helper for scripts/bench/device: a minimal gateway on loopback. Provisions a device
// state dir with an in-process test vendor, offers IMAGE as release 1 and serves it (from memory,
// 16 KiB writes, like the fake gateway of the unit tests), prints "URL <url> SHA256 <hex>" and
// runs until stdin closes. Not a test; built with the tests because it reuses their vendor and
// gateway.
#include <cstdio>
#include <iostream>
#include <string>

#include "common/core/fs.hpp"
#include "tests/unit/device-agent/fake_gateway.hpp"
#include "tests/unit/device-agent/test_vendor.hpp"

int main(int argc, char** argv) {
    using namespace fwchain;
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s IMAGE DEVICE_DIR\n", argv[0]);
        return 2;
    }
    auto bytes = ReadFile(argv[1], std::size_t{1} << 32);
    if (!bytes) {
        std::fprintf(stderr, "%s\n", bytes.error().ToString().c_str());
        return 1;
    }
    device::test::TestVendor vendor;
    vendor.Provision(argv[2], "bench-device");
    device::test::Image image(std::move(*bytes));
    device::test::ReleaseSpec spec;
    spec.sequence = 1;
    spec.version = "1.0.0";
    spec.sha256 = image.sha256;
    spec.size = image.bytes.size();
    device::test::FakeGateway gw;
    gw.SetImage(image.sha256, std::move(image.bytes));
    const Envelope listed = vendor.Release(spec);  // before the timestamp that names it
    gw.SetAnswer({}, vendor.Timestamp({{"cam", 1}}), listed);
    std::printf("URL %s SHA256 %s\n", gw.Url().c_str(), image.sha256.c_str());
    std::fflush(stdout);
    std::string line;
    while (std::getline(std::cin, line)) {
    }
    return 0;
}
