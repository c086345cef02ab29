// fuzz_replay TARGET PATH...: runs a fuzz target (tests/fuzz/fuzz.hpp) over files, or over every
// file of a directory (a seed corpus or crash inputs), with the normal compiler: the CTest tests
// labelled `fuzz`, and a way to replay a crash without clang.
// fuzz_replay --write-seeds DIR: rewrites the generated seed corpora (seeds.cpp).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz.hpp"

namespace fwchain::fuzz {

namespace {
std::map<std::string, TargetFn>& Targets() {
    static std::map<std::string, TargetFn> targets;
    return targets;
}
}  // namespace

int WriteSeeds(const std::string& dir);  // seeds.cpp

bool Register(const char* name, TargetFn fn) {
    Targets()[name] = fn;
    return true;
}

}  // namespace fwchain::fuzz

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    auto& targets = fwchain::fuzz::Targets();
    if (argc == 3 && std::string(argv[1]) == "--write-seeds") {
        return fwchain::fuzz::WriteSeeds(argv[2]);
    }
    if (argc < 3 || !targets.count(argv[1])) {
        std::fprintf(stderr, "usage: fuzz_replay TARGET FILE|DIR...\ntargets:");
        for (const auto& [name, fn] : targets) std::fprintf(stderr, " %s", name.c_str());
        std::fprintf(stderr, "\n");
        return 2;
    }
    const auto fn = targets.at(argv[1]);
    std::vector<fs::path> files;
    for (int i = 2; i < argc; ++i) {
        std::error_code ec;
        if (fs::is_directory(argv[i], ec)) {
            for (const auto& e : fs::directory_iterator(argv[i])) {
                if (e.is_regular_file()) files.push_back(e.path());
            }
        } else {
            files.emplace_back(argv[i]);
        }
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
        std::fprintf(stderr, "fuzz_replay: no input files\n");
        return 2;
    }
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        if (!in) {
            std::fprintf(stderr, "fuzz_replay: cannot read %s\n", f.c_str());
            return 2;
        }
        const std::string bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
        fn(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    }
    std::printf("%s: %zu inputs ran\n", argv[1], files.size());
    return 0;
}
