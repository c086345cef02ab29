#pragma once
// Private memory of the long-running programs on small machines (an access point): glibc keeps
// an arena per thread that ever allocated (libtorrent, the HTTP workers, the miner) and rarely
// gives freed pages back. These two calls bound both.

namespace fwchain {

// At most two malloc arenas for the whole process: call first thing in main().
void LimitMallocArenas();
// Returns the free pages at the top of the heaps to the system (after a fetch or a sync).
void ReleaseFreeMemory();

}  // namespace fwchain
