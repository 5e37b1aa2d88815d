import XCTest
import LockstepNative

final class Ed25519Tests: XCTestCase {
    // RFC 8032 section 7.1, TEST 1, 2 and 3.
    let vectors: [(seed: String, pub: String, msg: String, sig: String)] = [
        ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
         "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
        ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
         "72",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
        ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
         "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
         "af82",
         "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
    ]

    func testRFC8032Vectors() throws {
        for v in vectors {
            let key = try Ed25519PrivateKey(seed: bytes(hex: v.seed))
            XCTAssertEqual(key.seed, bytes(hex: v.seed))
            XCTAssertEqual(key.publicKey.hex, v.pub)
            XCTAssertEqual(key.publicKey.rawRepresentation, bytes(hex: v.pub))
            let sig = try key.signature(for: bytes(hex: v.msg))
            XCTAssertEqual(sig, bytes(hex: v.sig))
            let pub = try Ed25519PublicKey(rawRepresentation: bytes(hex: v.pub))
            XCTAssertEqual(pub, key.publicKey)
            XCTAssertTrue(pub.isValidSignature(bytes(hex: v.sig), for: bytes(hex: v.msg)))
        }
    }

    func testEveryBitFlipFails() throws {
        for v in vectors.prefix(2) {
            let pub = try Ed25519PublicKey(rawRepresentation: bytes(hex: v.pub))
            let sig = bytes(hex: v.sig)
            let msg = bytes(hex: v.msg)
            for bit in 0..<(sig.count * 8) {
                var bad = sig
                bad[bit / 8] ^= UInt8(1 << (bit % 8))
                XCTAssertFalse(pub.isValidSignature(bad, for: msg), "signature bit \(bit) flipped still verifies")
            }
            for bit in 0..<(msg.count * 8) {
                var bad = msg
                bad[bit / 8] ^= UInt8(1 << (bit % 8))
                XCTAssertFalse(pub.isValidSignature(sig, for: bad), "message bit \(bit) flipped still verifies")
            }
        }
        // A longer message signed by a fresh key: every message bit matters.
        let key = Ed25519PrivateKey()
        let msg = (0..<48).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let sig = try key.signature(for: msg)
        XCTAssertTrue(key.publicKey.isValidSignature(sig, for: msg))
        for bit in 0..<(msg.count * 8) {
            var bad = msg
            bad[bit / 8] ^= UInt8(1 << (bit % 8))
            XCTAssertFalse(key.publicKey.isValidSignature(sig, for: bad), "message bit \(bit)")
        }
        for bit in 0..<512 {
            var bad = sig
            bad[bit / 8] ^= UInt8(1 << (bit % 8))
            XCTAssertFalse(key.publicKey.isValidSignature(bad, for: msg), "signature bit \(bit)")
        }
        // Wrong key.
        XCTAssertFalse(Ed25519PrivateKey().publicKey.isValidSignature(sig, for: msg))
    }

    func testMalformedInputs() throws {
        XCTAssertThrowsError(try Ed25519PrivateKey(seed: [UInt8](repeating: 1, count: 31)))
        XCTAssertThrowsError(try Ed25519PrivateKey(seed: [UInt8](repeating: 1, count: 33)))
        XCTAssertThrowsError(try Ed25519PublicKey(rawRepresentation: []))
        XCTAssertThrowsError(try Ed25519PublicKey(rawRepresentation: [UInt8](repeating: 0, count: 64)))
        let v = vectors[1]
        let pub = try Ed25519PublicKey(rawRepresentation: bytes(hex: v.pub))
        let sig = bytes(hex: v.sig)
        XCTAssertFalse(pub.isValidSignature([], for: bytes(hex: v.msg)))
        XCTAssertFalse(pub.isValidSignature(Array(sig.dropLast()), for: bytes(hex: v.msg)))
        XCTAssertFalse(pub.isValidSignature(sig + [0], for: bytes(hex: v.msg)))
        XCTAssertFalse(pub.isValidSignature([UInt8](repeating: 0xff, count: 64), for: bytes(hex: v.msg)))
        XCTAssertFalse(pub.isValidSignature([UInt8](repeating: 0, count: 64), for: []))
        // S not reduced (S + L): must be rejected.
        var nonCanonical = sig
        let l: [UInt8] = bytes(hex: "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")  // L, little-endian
        var carry = 0
        for i in 0..<32 {
            let s = Int(nonCanonical[32 + i]) + Int(l[i]) + carry
            nonCanonical[32 + i] = UInt8(s & 0xff)
            carry = s >> 8
        }
        XCTAssertFalse(pub.isValidSignature(nonCanonical, for: bytes(hex: v.msg)))
        // Public keys that are not valid point encodings: verification just fails.
        for bad in [[UInt8](repeating: 0xff, count: 32), [UInt8](repeating: 0x00, count: 32),
                    [2] + [UInt8](repeating: 0, count: 31)] {
            if let weird = try? Ed25519PublicKey(rawRepresentation: bad) {
                XCTAssertFalse(weird.isValidSignature(sig, for: bytes(hex: v.msg)))
                XCTAssertEqual(weird.rawRepresentation, bad)
            }
        }
    }

    func testRandomKeysRoundTrip() throws {
        let a = Ed25519PrivateKey()
        let b = Ed25519PrivateKey()
        XCTAssertNotEqual(a.seed, b.seed)
        XCTAssertNotEqual(a.publicKey, b.publicKey)
        let a2 = try Ed25519PrivateKey(seed: a.seed)
        XCTAssertEqual(a2.publicKey, a.publicKey)
        let msg = Array("commitment".utf8)
        XCTAssertEqual(try a.signature(for: msg), try a2.signature(for: msg))  // deterministic
        XCTAssertTrue(a.publicKey.isValidSignature(try a.signature(for: msg), for: msg))
        XCTAssertEqual(a.publicKey.hex.count, 64)
        XCTAssertEqual(Set([a.publicKey, a2.publicKey, b.publicKey]).count, 2)
    }
}
