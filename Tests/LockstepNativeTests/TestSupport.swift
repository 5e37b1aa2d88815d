import XCTest
import Foundation
import LockstepNative

struct NoOpenCLDevice: Error {}

/// The first available OpenCL device, or XCTSkip when no platform/device exists
/// (a test failure instead when the environment sets LOCKSTEP_REQUIRE_OPENCL=1).
func requireDevice(file: StaticString = #filePath, line: UInt = #line) throws -> OpenCLDevice {
    let platforms = try OpenCLPlatform.all()
    if let device = platforms.lazy.flatMap(\.devices).first(where: \.isAvailable) { return device }
    if ProcessInfo.processInfo.environment["LOCKSTEP_REQUIRE_OPENCL"] == "1" {
        XCTFail("LOCKSTEP_REQUIRE_OPENCL=1 but no OpenCL device is available", file: file, line: line)
        throw NoOpenCLDevice()
    }
    throw XCTSkip("no OpenCL platform with an available device")
}

/// SplitMix64: a small, seeded, reproducible generator for test inputs.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func bytes(hex: String) -> [UInt8] {
    precondition(hex.count % 2 == 0)
    var out: [UInt8] = []
    var i = hex.startIndex
    while i < hex.endIndex {
        let j = hex.index(i, offsetBy: 2)
        out.append(UInt8(hex[i..<j], radix: 16)!)
        i = j
    }
    return out
}
