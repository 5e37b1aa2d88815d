import XCTest
@testable import LockstepTokenizer

/// The token-text index against a vocabulary crafted to collide under a fixed, public hash.
final class TokenTextIndexTests: XCTestCase {
    /// 64-bit FNV-1a of `bytes`, truncated to its low 16 bits: the slot a fixed FNV-1a table of up
    /// to 65536 slots would give (the index hashed with FNV-1a before it was seeded).
    private func fnv1aLow16(_ bytes: [UInt8], from state: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 {
        var h = state
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h & 0xFFFF
    }

    /// `2^pairs` distinct printable-ASCII texts whose FNV-1a hashes agree in their low 16 bits.
    /// The low bits of FNV-1a depend only on the low bits of its state, so two 4-byte blocks that
    /// take one state to the same low bits can be chosen independently at each of `pairs` steps.
    private func fnvCollidingTexts(pairs: Int) -> [String] {
        var state: UInt64 = 0xcbf2_9ce4_8422_2325
        var choices: [[[UInt8]]] = []
        for _ in 0 ..< pairs {
            var seen: [UInt64: [UInt8]] = [:]
            var n = 0
            while true {
                // Blocks enumerated in order over the 64 characters "0" … "o".
                let block = (0 ..< 4).map { UInt8(0x30 + (n >> (6 * $0)) & 63) }
                n += 1
                let low = fnv1aLow16(block, from: state)
                if let other = seen[low] {
                    choices.append([other, block])
                    state = low  // only the low 16 bits matter from here on
                    break
                }
                seen[low] = block
            }
        }
        var texts: [[UInt8]] = [[]]
        for pair in choices { texts = texts.flatMap { t in pair.map { t + $0 } } }
        return texts.map { String(decoding: $0, as: UTF8.self) }
    }

    func testTextsCollidingUnderFNV1aDoNotPileUp() {
        let texts = fnvCollidingTexts(pairs: 12)
        XCTAssertEqual(texts.count, 4096)
        XCTAssertEqual(Set(texts).count, 4096)
        XCTAssertEqual(Set(texts.map { fnv1aLow16(Array($0.utf8)) }).count, 1, "the texts do not collide under FNV-1a")
        let index = TokenTextIndex(texts)
        for (id, text) in texts.enumerated() { XCTAssertEqual(index.id(of: text), TokenID(id)) }
        XCTAssertNil(index.id(of: "00000"))
        // Colliding in one run of 8192 slots, they would need 4096 · 4095 / 2 ≈ 8.4 million probes;
        // spread at random they average about half a probe each.
        XCTAssertLessThan(index.totalDisplacement, 4 * texts.count)
    }
}
