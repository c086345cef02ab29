#pragma once
// Opens a chain on `path` with `genesis` for a test; nullptr (and a test failure) if it cannot.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "ledger/chain/chain.hpp"

namespace fwchain::ledger::testing {

inline std::unique_ptr<Chain> OpenChain(const std::string& path, const Block& genesis) {
    ChainOptions o;
    o.db_path = path;
    o.genesis_hash = genesis.Hash();
    o.genesis = genesis;
    auto c = Chain::Open(o);
    EXPECT_TRUE(c) << c.error().ToString();
    return c ? std::move(*c) : nullptr;
}

}  // namespace fwchain::ledger::testing
