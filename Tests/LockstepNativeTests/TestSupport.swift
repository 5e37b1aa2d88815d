import XCTest
import LockstepTestSupport
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
