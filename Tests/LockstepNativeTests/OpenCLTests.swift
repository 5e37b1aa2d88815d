import XCTest
import LockstepTestSupport
import LockstepNative
import Foundation

final class OpenCLTests: XCTestCase {
    func testEnumeratePlatformsAndDevices() throws {
        let device = try requireDevice()
        for platform in try OpenCLPlatform.all() {
            print("OpenCL platform: \(platform.name) | \(platform.vendor) | \(platform.version) | \(platform.extensions)")
            XCTAssertFalse(platform.name.isEmpty)
            XCTAssertTrue(platform.version.hasPrefix("OpenCL"))
            for d in platform.devices {
                print("  device: \(d.name) | \(d.vendor) | \(d.version) | \(d.openCLCVersion) | type \(d.type)")
                print("    compute units \(d.maxComputeUnits), global \(d.globalMemSize) B, max alloc \(d.maxMemAllocSize) B, "
                      + "local \(d.localMemSize) B, max work-group \(d.maxWorkGroupSize)")
                print("    single FP config: \(d.singleFPConfig) (0x\(String(d.singleFPConfig.rawValue, radix: 16)))")
                print("    double FP config: \(d.doubleFPConfig) (0x\(String(d.doubleFPConfig.rawValue, radix: 16)))")
                print("    extensions: \(d.extensions.joined(separator: " "))")
                XCTAssertEqual(d.platformName, platform.name)
            }
        }
        XCTAssertGreaterThan(device.maxComputeUnits, 0)
        XCTAssertGreaterThan(device.globalMemSize, 0)
        XCTAssertGreaterThan(device.maxWorkGroupSize, 0)
        XCTAssertTrue(device.singleFPConfig.contains(.roundToNearest), "the spec requires round-to-nearest")
        XCTAssertTrue(device.singleFPConfig.contains(.infNaN), "the spec requires inf/NaN")
        XCTAssertFalse(device.type.isEmpty)
        XCTAssertTrue(device.version.hasPrefix("OpenCL"))
        if device.extensions.contains("cl_khr_fp64") {
            XCTAssertFalse(device.doubleFPConfig.isEmpty)
        }
    }

    func testFPConfigDecoding() {
        let config = OpenCLFPConfig(rawValue: 0xBF)
        XCTAssertTrue(config.contains([.denorm, .infNaN, .roundToNearest, .roundToZero, .roundToInf, .fma,
                                       .correctlyRoundedDivideSqrt]))
        XCTAssertFalse(config.contains(.softFloat))
        XCTAssertEqual(OpenCLFPConfig(rawValue: 0x6).description, "[infNaN, roundToNearest]")
        XCTAssertEqual(OpenCLDeviceType(rawValue: 2).description, "CPU")
    }

    func testErrorNames() {
        XCTAssertEqual(OpenCLError.name(of: -5), "CL_OUT_OF_RESOURCES")
        XCTAssertEqual(OpenCLError.name(of: -11), "CL_BUILD_PROGRAM_FAILURE")
        XCTAssertEqual(OpenCLError.name(of: -54), "CL_INVALID_WORK_GROUP_SIZE")
        XCTAssertEqual(OpenCLError.name(of: -1001), "CL_PLATFORM_NOT_FOUND_KHR")
        XCTAssertEqual(OpenCLError.name(of: -12345), "CL_UNKNOWN_ERROR")
        let e = OpenCLError(call: "clCreateBuffer", code: -61)
        XCTAssertEqual(e.description, "clCreateBuffer failed: CL_INVALID_BUFFER_SIZE (-61)")
    }

    static let muladdSource = """
    #pragma OPENCL FP_CONTRACT OFF
    __kernel void muladd(__global const float *a, __global const float *b, __global float *c, const uint n) {
        size_t i = get_global_id(0);
        if (i < n) c[i] = a[i] * b[i] + c[i];
    }
    __kernel void fused(__global const float *a, __global const float *b, __global float *c, const uint n) {
        size_t i = get_global_id(0);
        if (i < n) c[i] = fma(a[i], b[i], c[i]);
    }
    __kernel void scale(__global int *x, const int factor) {
        x[get_global_id(0)] *= factor;
    }
    """

    func testMulAddMatchesSwiftBitForBit() throws {
        let device = try requireDevice()
        let context = try OpenCLContext(device: device)
        let program = try OpenCLProgram(context: context, source: Self.muladdSource, options: "-cl-std=CL1.2")
        var rng = SplitMix64(seed: 99)
        let n = 4099
        func randomFloat() -> Float {
            // Wide exponent range, both signs, some subnormal-producing products.
            let mantissa = Float(UInt32.random(in: 0..<(1 << 24), using: &rng)) / Float(1 << 24) + 0.5
            let exponent = Int.random(in: -70...40, using: &rng)
            return (Bool.random(using: &rng) ? -1 : 1) * Float(sign: .plus, exponent: exponent, significand: mantissa)
        }
        let a = (0..<n).map { _ in randomFloat() }
        let b = (0..<n).map { _ in randomFloat() }
        let c = (0..<n).map { i in i % 2 == 0 ? -(a[i] * b[i]) * (1 + Float.ulpOfOne) : randomFloat() }

        let unfused = (0..<n).map { a[$0] * b[$0] + c[$0] }
        let fused = (0..<n).map { c[$0].addingProduct(a[$0], b[$0]) }
        let differing = (0..<n).filter { unfused[$0].bitPattern != fused[$0].bitPattern }.count
        XCTAssertGreaterThan(differing, n / 4, "inputs must tell fused from unfused")

        let bufA = try OpenCLBuffer(context: context, copying: a, access: .readOnly)
        let bufB = try OpenCLBuffer(context: context, copying: b, access: .readOnly)
        for (name, expected) in [("muladd", unfused), ("fused", fused)] {
            let bufC = try OpenCLBuffer(context: context, copying: c)
            let kernel = try OpenCLKernel(program: program, name: name)
            try kernel.setArgument(0, bufA)
            try kernel.setArgument(1, bufB)
            try kernel.setArgument(2, bufC)
            try kernel.setArgument(3, value: UInt32(n))
            try context.run(kernel, globalSize: [4104], localSize: [8])
            try context.finish()
            let got = try bufC.read(as: Float.self)
            let gotBytes = try bufC.readBytes()
            let expectedBytes = expected.withUnsafeBytes { Array($0) }
            XCTAssertEqual(gotBytes.count, n * 4)
            let mismatches = (0..<n).filter { got[$0].bitPattern != expected[$0].bitPattern }
            XCTAssertTrue(gotBytes == expectedBytes,
                          "\(name): \(mismatches.count) of \(n) differ, first at \(mismatches.first.map { "\($0): \(got[$0]) vs \(expected[$0])" } ?? "-")")
        }
    }

    func testBuffersScalarsAndErrors() throws {
        let device = try requireDevice()
        let context = try OpenCLContext(device: device)
        let program = try OpenCLProgram(context: context, source: Self.muladdSource)
        let buffer = try OpenCLBuffer(context: context, byteCount: 16 * 4)
        XCTAssertEqual(buffer.byteCount, 64)
        try buffer.write((0..<16).map { Int32($0) })
        try buffer.write([Int32(100), 200], atByteOffset: 8)
        XCTAssertEqual(try buffer.read(as: Int32.self), [0, 1, 100, 200] + (4..<16).map { Int32($0) })
        let kernel = try OpenCLKernel(program: program, name: "scale")
        try kernel.setArgument(0, buffer)
        try kernel.setArgument(1, value: Int32(-3))
        XCTAssertGreaterThan(try kernel.maxWorkGroupSize(), 0)
        try context.run(kernel, globalSize: [16])
        try context.finish()
        XCTAssertEqual(try buffer.read(as: Int32.self), ([0, 1, 100, 200] + (4..<16).map { Int32($0) }).map { $0 * -3 })
        var raw = [UInt8](repeating: 0, count: 4)
        try raw.withUnsafeMutableBytes { try buffer.read(into: $0, fromByteOffset: 12) }
        XCTAssertEqual(raw, withUnsafeBytes(of: Int32(-600)) { Array($0) })

        // Wrong argument size: CL_INVALID_ARG_SIZE.
        XCTAssertThrowsError(try kernel.setArgument(1, value: Int64(1))) { error in
            let e = error as? OpenCLError
            XCTAssertEqual(e?.call, "clSetKernelArg")
            XCTAssertEqual(e?.name, "CL_INVALID_ARG_SIZE")
        }
        // Unknown kernel name.
        XCTAssertThrowsError(try OpenCLKernel(program: program, name: "nope")) { error in
            XCTAssertEqual((error as? OpenCLError)?.name, "CL_INVALID_KERNEL_NAME")
        }
        // Too large a buffer.
        XCTAssertThrowsError(try OpenCLBuffer(context: context, byteCount: Int(device.maxMemAllocSize) * 4 + 4096)) { error in
            XCTAssertEqual((error as? OpenCLError)?.call, "clCreateBuffer")
        }
    }

    func testSyntaxErrorThrowsWithBuildLog() throws {
        let device = try requireDevice()
        let context = try OpenCLContext(device: device)
        let source = """
        __kernel void broken(__global float *x) {
            x[0] = ;
        }
        """
        XCTAssertThrowsError(try OpenCLProgram(context: context, source: source)) { error in
            guard let e = error as? OpenCLError else { return XCTFail("not an OpenCLError: \(error)") }
            XCTAssertEqual(e.call, "clBuildProgram")
            XCTAssertEqual(e.code, -11)
            XCTAssertEqual(e.name, "CL_BUILD_PROGRAM_FAILURE")
            let log = e.buildLog ?? ""
            XCTAssertTrue(log.contains("error"), "build log: \(log)")
            XCTAssertTrue(e.description.contains(log))
            print("Build log of the broken program:\n\(log)")
        }
        XCTAssertThrowsError(try OpenCLProgram(context: context, source: "__kernel void k() {}", options: "-no-such-option")) { error in
            let e = error as? OpenCLError
            XCTAssertEqual(e?.call, "clBuildProgram")
            XCTAssertNotNil(e?.buildLog)
        }
    }

    /// With -cl-fp32-correctly-rounded-divide-sqrt (allowed when the device reports
    /// correctlyRoundedDivideSqrt), `/` and `sqrt` must equal Swift's IEEE results bit for bit.
    func testCorrectlyRoundedDivideSqrt() throws {
        let device = try requireDevice()
        guard device.singleFPConfig.contains(.correctlyRoundedDivideSqrt) else {
            throw XCTSkip("device does not offer correctly rounded fp32 divide/sqrt")
        }
        let context = try OpenCLContext(device: device)
        let source = """
        #pragma OPENCL FP_CONTRACT OFF
        __kernel void divsqrt(__global const float *a, __global const float *b, __global float *q, __global float *r) {
            size_t i = get_global_id(0);
            q[i] = a[i] / b[i];
            r[i] = sqrt(a[i]);
        }
        """
        let program = try OpenCLProgram(context: context, source: source,
                                        options: "-cl-std=CL1.2 -cl-fp32-correctly-rounded-divide-sqrt")
        var rng = SplitMix64(seed: 1234)
        let n = 8192
        let a = (0..<n).map { _ in Float(bitPattern: UInt32.random(in: 0x0000_0001...0x7f7f_ffff, using: &rng)) }
        let b = (0..<n).map { _ in Float(bitPattern: UInt32.random(in: 0x0080_0000...0x7f7f_ffff, using: &rng)) }
        let bufA = try OpenCLBuffer(context: context, copying: a, access: .readOnly)
        let bufB = try OpenCLBuffer(context: context, copying: b, access: .readOnly)
        let bufQ = try OpenCLBuffer(context: context, byteCount: n * 4, access: .writeOnly)
        let bufR = try OpenCLBuffer(context: context, byteCount: n * 4, access: .writeOnly)
        let kernel = try OpenCLKernel(program: program, name: "divsqrt")
        for (i, buffer) in [bufA, bufB, bufQ, bufR].enumerated() { try kernel.setArgument(i, buffer) }
        try context.run(kernel, globalSize: [n])
        try context.finish()
        let q = try bufQ.read(as: Float.self), r = try bufR.read(as: Float.self)
        let badQ = (0..<n).filter { q[$0].bitPattern != (a[$0] / b[$0]).bitPattern }
        let badR = (0..<n).filter { r[$0].bitPattern != a[$0].squareRoot().bitPattern }
        XCTAssertEqual(badQ.count, 0, "divide differs, e.g. \(badQ.first.map { "\(a[$0]) / \(b[$0]) = \(q[$0])" } ?? "")")
        XCTAssertEqual(badR.count, 0, "sqrt differs, e.g. \(badR.first.map { "sqrt \(a[$0]) = \(r[$0])" } ?? "")")
    }
}
