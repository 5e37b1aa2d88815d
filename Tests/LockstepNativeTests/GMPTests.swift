import XCTest
import LockstepTestSupport
import LockstepNative

final class GMPTests: XCTestCase {
    let m127 = "170141183460469231731687303715884105727"

    func testMersenne127IsPrime() {
        let p = GMPInteger(m127)!
        XCTAssertTrue(p.isProbablePrime())
        XCTAssertEqual(p.bitWidth, 127)
        // 2^127 - 1 built by arithmetic equals the decimal spelling.
        let two = GMPInteger(2)
        var power = GMPInteger.one
        for _ in 0..<127 { power = power * two }
        XCTAssertEqual(power - .one, p)
        XCTAssertEqual(GMPInteger(bytesBigEndian: [0x7f] + [UInt8](repeating: 0xff, count: 15)), p)
        XCTAssertEqual(PrimeField.p127.modulus, p)
        XCTAssertEqual(PrimeField.p127.byteCount, 16)
        // 2^127 + 1 is divisible by 3; 2^128 - 1 = (2^64-1)(2^64+1); M89 prime, 2^67 - 1 composite.
        XCTAssertFalse((power + .one).isProbablePrime())
        XCTAssertFalse((power * two - .one).isProbablePrime())
        XCTAssertTrue(GMPInteger("618970019642690137449562111")!.isProbablePrime())
        XCTAssertFalse(GMPInteger("147573952589676412927")!.isProbablePrime())  // 2^67-1 = 193707721 × 761838257287
        XCTAssertEqual(GMPInteger(193707721) * GMPInteger(761838257287), GMPInteger("147573952589676412927")!)
        XCTAssertTrue(GMPInteger(2).isProbablePrime())
        XCTAssertFalse(GMPInteger(1).isProbablePrime())
    }

    func testPowModKnownValues() {
        XCTAssertEqual(GMPInteger(2).powMod(GMPInteger(10), GMPInteger(1000)), GMPInteger(24))
        XCTAssertEqual(GMPInteger(4).powMod(GMPInteger(100), GMPInteger(7)), GMPInteger(4))
        XCTAssertEqual(GMPInteger(5).powMod(GMPInteger(117), GMPInteger(19)), GMPInteger(1))
        XCTAssertEqual(GMPInteger(7).powMod(GMPInteger(0), GMPInteger(13)), GMPInteger(1))
        let p = GMPInteger(m127)!
        // 2^127 ≡ 1 (mod 2^127 - 1); Fermat: a^(p-1) ≡ 1.
        XCTAssertEqual(GMPInteger(2).powMod(GMPInteger(127), p), .one)
        XCTAssertEqual(GMPInteger(3).powMod(p - .one, p), .one)
        XCTAssertEqual(GMPInteger("123456789123456789123456789")!.powMod(p - .one, p), .one)
        // Negative base: reduced into 0..<m.
        XCTAssertEqual(GMPInteger(-2).powMod(GMPInteger(3), GMPInteger(5)), GMPInteger(2))
        // Against a UInt64 square-and-multiply reference.
        var rng = SplitMix64(seed: 42)
        for _ in 0..<200 {
            let b = UInt64.random(in: 0...UInt64.max, using: &rng)
            let e = UInt64.random(in: 0...100_000, using: &rng)
            let m = UInt64.random(in: 2...UInt64.max, using: &rng)
            XCTAssertEqual(GMPInteger(b).powMod(GMPInteger(e), GMPInteger(m)), GMPInteger(referencePowMod(b, e, m)))
        }
    }

    private func mulMod(_ a: UInt64, _ b: UInt64, _ m: UInt64) -> UInt64 {
        let (hi, lo) = a.multipliedFullWidth(by: b)
        return m.dividingFullWidth((hi % m, lo)).remainder
    }

    private func referencePowMod(_ b: UInt64, _ e: UInt64, _ m: UInt64) -> UInt64 {
        var result: UInt64 = 1 % m
        var base = b % m
        var e = e
        while e > 0 {
            if e & 1 == 1 { result = mulMod(result, base, m) }
            base = mulMod(base, base, m)
            e >>= 1
        }
        return result
    }

    func testArithmeticMatchesInt() {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<500 {
            let a = Int.random(in: -1_000_000_000...1_000_000_000, using: &rng)
            let b = Int.random(in: -1_000_000_000...1_000_000_000, using: &rng)
            let ga = GMPInteger(a), gb = GMPInteger(b)
            XCTAssertEqual((ga + gb).intValue, a + b)
            XCTAssertEqual((ga - gb).intValue, a - b)
            XCTAssertEqual((ga * gb).intValue, a * b)
            XCTAssertEqual((-ga).intValue, -a)
            XCTAssertEqual(ga.compare(gb), a < b ? -1 : (a > b ? 1 : 0))
            XCTAssertEqual(ga < gb, a < b)
            XCTAssertEqual(ga == gb, a == b)
            if b != 0 {
                let r = ((a % b) + abs(b)) % abs(b)
                XCTAssertEqual(ga.mod(gb).intValue, r)
                XCTAssertEqual((ga % gb).intValue, r)
                XCTAssertEqual(ga.quotient(dividingBy: gb).intValue, a / b)
            }
        }
        XCTAssertEqual(GMPInteger(-7).mod(GMPInteger(5)), GMPInteger(3))
        XCTAssertEqual(GMPInteger(Int.min).intValue, Int.min)
        XCTAssertNil((GMPInteger(Int.max) + .one).intValue)
        XCTAssertEqual(GMPInteger(UInt64.max).description, "18446744073709551615")
        let x: GMPInteger = 42
        XCTAssertEqual(x.intValue, 42)
        // Immutability: operands unchanged.
        let a = GMPInteger(5), b = GMPInteger(6)
        _ = a + b; _ = a * b; _ = a.mod(b); _ = -a
        XCTAssertEqual(a.intValue, 5)
        XCTAssertEqual(b.intValue, 6)
        XCTAssertEqual(GMPInteger(3).inverse(modulo: GMPInteger(7)), GMPInteger(5))
        XCTAssertNil(GMPInteger(6).inverse(modulo: GMPInteger(9)))
    }

    func testStrings() {
        let big = "-123456789012345678901234567890123456789"
        XCTAssertEqual(GMPInteger(big)?.description, big)
        XCTAssertEqual(GMPInteger("ff", radix: 16)?.intValue, 255)
        XCTAssertEqual(GMPInteger("FF", radix: 16)?.intValue, 255)
        XCTAssertEqual(GMPInteger("-101", radix: 2)?.intValue, -5)
        XCTAssertEqual(GMPInteger(255).toString(radix: 16), "ff")
        XCTAssertEqual(GMPInteger(-255).toString(radix: 2), "-11111111")
        XCTAssertEqual(GMPInteger(0).description, "0")
        XCTAssertEqual(GMPInteger(m127)!.toString(radix: 16), "7" + String(repeating: "f", count: 31))
        for bad in ["", "-", "+5", " 12", "12 ", "1 2", "12a", "0x10", "--1", "1.5"] {
            XCTAssertNil(GMPInteger(bad), "accepted \(bad.debugDescription)")
        }
        XCTAssertNil(GMPInteger("2", radix: 2))
        XCTAssertNil(GMPInteger("z", radix: 35))
        XCTAssertEqual(GMPInteger("z", radix: 36)?.intValue, 35)
    }

    func testByteRoundTrips() {
        XCTAssertEqual(GMPInteger(0).bytesBigEndian(), [])
        XCTAssertEqual(GMPInteger(bytesBigEndian: []), .zero)
        XCTAssertEqual(GMPInteger(bytesBigEndian: [0, 0, 1, 2]).bytesBigEndian(), [1, 2])
        XCTAssertEqual(GMPInteger(0x0102).bytesBigEndian(), [1, 2])
        XCTAssertEqual(GMPInteger(0x0102).bytesBigEndian(paddedTo: 4), [0, 0, 1, 2])
        XCTAssertEqual(GMPInteger(0).bytesBigEndian(paddedTo: 3), [0, 0, 0])
        XCTAssertEqual(GMPInteger(UInt64.max).bytesBigEndian(), [UInt8](repeating: 0xff, count: 8))
        var rng = SplitMix64(seed: 3)
        for length in 1...80 {
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            bytes[0] = max(bytes[0], 1)
            let x = GMPInteger(bytesBigEndian: bytes)
            XCTAssertEqual(x.bytesBigEndian(), bytes)
            XCTAssertEqual(GMPInteger(x.description), x)
            XCTAssertEqual(GMPInteger(x.toString(radix: 62), radix: 62), x)
            XCTAssertEqual(x.bitWidth, (length - 1) * 8 + (8 - bytes[0].leadingZeroBitCount))
        }
    }

    func testHashable() {
        let s: Set<GMPInteger> = [GMPInteger(5), GMPInteger("5")!, GMPInteger(-5), GMPInteger(0)]
        XCTAssertEqual(s.count, 3)
        XCTAssertTrue(s.contains(GMPInteger(bytesBigEndian: [5])))
    }

    func testConcurrentReadsOfSharedIntegers() async {
        let p = PrimeField.p127
        let base = GMPInteger("98765432109876543210987654321")!
        let expected = base.powMod(GMPInteger(65537), p.modulus)
        await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask { (0..<50).allSatisfy { _ in base.powMod(GMPInteger(65537), p.modulus) == expected } }
            }
            for await ok in group { XCTAssertTrue(ok) }
        }
    }
}

final class PrimeFieldTests: XCTestCase {
    let f = PrimeField.p127

    func testElementOps() {
        let p = f.modulus
        XCTAssertEqual(f.element(p), .zero)
        XCTAssertEqual(f.element(-1), p - .one)
        XCTAssertEqual(f.element(p + GMPInteger(5)), GMPInteger(5))
        XCTAssertEqual(f.add(p - .one, GMPInteger(2)), .one)
        XCTAssertEqual(f.subtract(.one, GMPInteger(2)), p - .one)
        XCTAssertEqual(f.negate(.one), p - .one)
        XCTAssertEqual(f.negate(.zero), .zero)
        // 2^64 · 2^63 = 2^127 ≡ 1.
        XCTAssertEqual(f.multiply(GMPInteger(UInt64(1) << 63), GMPInteger(bytesBigEndian: [1, 0, 0, 0, 0, 0, 0, 0, 0])), .one)
        var rng = SplitMix64(seed: 9)
        for _ in 0..<50 {
            let a = f.randomElement(using: &rng)
            XCTAssertTrue(a >= .zero && a < p)
            XCTAssertEqual(f.encode(a).count, 16)
            XCTAssertEqual(GMPInteger(bytesBigEndian: f.encode(a)), a)
            if a != .zero {
                let inv = f.inverse(a)!
                XCTAssertEqual(f.multiply(a, inv), .one)
                XCTAssertEqual(f.power(a, p - GMPInteger(2)), inv)
            }
        }
        XCTAssertNil(f.inverse(.zero))
        XCTAssertNotEqual(f.randomElement(), f.randomElement())
        let small = PrimeField(modulus: GMPInteger(101))
        XCTAssertEqual(small.byteCount, 1)
        XCTAssertEqual(small.multiply(GMPInteger(50), GMPInteger(3)), GMPInteger(49))
    }

    func testDot() {
        var rng = SplitMix64(seed: 11)
        let a = (0..<257).map { _ in f.randomElement(using: &rng) }
        let b = (0..<257).map { _ in GMPInteger(Int.random(in: -1 << 40 ... 1 << 40, using: &rng)) }
        var reference = GMPInteger.zero
        for i in a.indices { reference = f.add(reference, f.multiply(a[i], b[i])) }
        XCTAssertEqual(f.dot(a, b), reference)
        XCTAssertEqual(f.dot([], []), .zero)
    }

    /// A Freivalds check in miniature: C = A·B passes; one changed entry of C fails.
    func testFreivaldsSketch() {
        var rng = SplitMix64(seed: 5)
        let n = 12
        let A = (0..<n).map { _ in (0..<n).map { _ in Int.random(in: -1000...1000, using: &rng) } }
        let B = (0..<n).map { _ in (0..<n).map { _ in Int.random(in: -1000...1000, using: &rng) } }
        var C = [[Int]](repeating: [Int](repeating: 0, count: n), count: n)
        for i in 0..<n { for j in 0..<n { for k in 0..<n { C[i][j] += A[i][k] * B[k][j] } } }
        func check(_ C: [[Int]]) -> Bool {
            let r = (0..<n).map { _ in f.randomElement(using: &rng) }
            let Br = (0..<n).map { i in f.dot(B[i].map { GMPInteger($0) }, r) }
            let ABr = (0..<n).map { i in f.dot(A[i].map { GMPInteger($0) }, Br) }
            let Cr = (0..<n).map { i in f.dot(C[i].map { GMPInteger($0) }, r) }
            return ABr == Cr
        }
        XCTAssertTrue(check(C))
        var bad = C
        bad[3][7] += 1
        XCTAssertFalse(check(bad))
    }
}
