internal import COpenCL

// MARK: - Info queries

/// Reads a fixed-size info value through a `clGet*Info`-style call.
private func infoValue<T: BitwiseCopyable>(
    _ call: StaticString, as type: T.Type,
    _ get: (Int, UnsafeMutableRawPointer, UnsafeMutablePointer<Int>) -> cl_int
) throws(OpenCLError) -> T {
    var value = [UInt8](repeating: 0, count: MemoryLayout<T>.size)
    var returned = 0
    let code = value.withUnsafeMutableBytes { get($0.count, $0.baseAddress!, &returned) }
    try clCheck(code, call)
    return value.withUnsafeBytes { $0.loadUnaligned(as: T.self) }
}

/// Reads a string info value (NUL-terminated char array) through a `clGet*Info`-style call.
func infoString(
    _ call: StaticString,
    _ get: (Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>) -> cl_int
) throws(OpenCLError) -> String {
    var size = 0
    try clCheck(get(0, nil, &size), call)
    guard size > 0 else { return "" }
    var bytes = [UInt8](repeating: 0, count: size)
    var returned = 0
    let code = bytes.withUnsafeMutableBytes { get($0.count, $0.baseAddress, &returned) }
    try clCheck(code, call)
    let text = bytes.prefix(min(returned, size)).prefix { $0 != 0 }
    return String(decoding: text, as: UTF8.self)
}

private func platformString(_ id: cl_platform_id, _ param: Int32) throws(OpenCLError) -> String {
    try infoString("clGetPlatformInfo") { clGetPlatformInfo(id, cl_platform_info(param), $0, $1, $2) }
}

private func deviceString(_ id: cl_device_id, _ param: Int32) throws(OpenCLError) -> String {
    try infoString("clGetDeviceInfo") { clGetDeviceInfo(id, cl_device_info(param), $0, $1, $2) }
}

private func deviceValue<T: BitwiseCopyable>(_ id: cl_device_id, _ param: Int32, as type: T.Type) throws(OpenCLError) -> T {
    try infoValue("clGetDeviceInfo", as: type) { clGetDeviceInfo(id, cl_device_info(param), $0, $1, $2) }
}

// MARK: - Platform

/// An installed OpenCL platform (one ICD: PoCL, a GPU vendor's driver, ...) with its devices.
///
/// Platform and device ids are owned by the OpenCL runtime and need no release. The values read
/// here are immutable; instances are `Sendable`.
public struct OpenCLPlatform: @unchecked Sendable, CustomStringConvertible {
    let id: cl_platform_id
    /// CL_PLATFORM_NAME, e.g. "Portable Computing Language".
    public let name: String
    /// CL_PLATFORM_VENDOR, e.g. "The pocl project".
    public let vendor: String
    /// CL_PLATFORM_VERSION, e.g. "OpenCL 3.0 PoCL 3.1 ...".
    public let version: String
    /// CL_PLATFORM_PROFILE: "FULL_PROFILE" or "EMBEDDED_PROFILE".
    public let profile: String
    /// CL_PLATFORM_EXTENSIONS, split at spaces.
    public let extensions: [String]
    /// Every device of the platform (CL_DEVICE_TYPE_ALL), in the runtime's order; may be empty.
    public let devices: [OpenCLDevice]

    /// Every installed platform, in the ICD loader's order. Returns `[]` when none is installed
    /// (the loader's CL_PLATFORM_NOT_FOUND_KHR); throws `OpenCLError` for any other failure.
    public static func all() throws(OpenCLError) -> [OpenCLPlatform] {
        var count: cl_uint = 0
        let status = clGetPlatformIDs(0, nil, &count)
        if status == lockstep_cl_platform_not_found_khr() || (status == CL_SUCCESS && count == 0) { return [] }
        try clCheck(status, "clGetPlatformIDs")
        var ids = [cl_platform_id?](repeating: nil, count: Int(count))
        try clCheck(clGetPlatformIDs(count, &ids, &count), "clGetPlatformIDs")
        var platforms: [OpenCLPlatform] = []
        for case let id? in ids.prefix(Int(count)) {
            platforms.append(try OpenCLPlatform(id: id))
        }
        return platforms
    }

    init(id: cl_platform_id) throws(OpenCLError) {
        self.id = id
        name = try platformString(id, CL_PLATFORM_NAME)
        vendor = try platformString(id, CL_PLATFORM_VENDOR)
        version = try platformString(id, CL_PLATFORM_VERSION)
        profile = try platformString(id, CL_PLATFORM_PROFILE)
        extensions = try platformString(id, CL_PLATFORM_EXTENSIONS).split(separator: " ").map(String.init)

        var count: cl_uint = 0
        let status = clGetDeviceIDs(id, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &count)
        if status == CL_DEVICE_NOT_FOUND || (status == CL_SUCCESS && count == 0) {
            devices = []
            return
        }
        try clCheck(status, "clGetDeviceIDs")
        var ids = [cl_device_id?](repeating: nil, count: Int(count))
        try clCheck(clGetDeviceIDs(id, cl_device_type(CL_DEVICE_TYPE_ALL), count, &ids, &count), "clGetDeviceIDs")
        var devices: [OpenCLDevice] = []
        for case let deviceID? in ids.prefix(Int(count)) {
            devices.append(try OpenCLDevice(id: deviceID, platformName: name))
        }
        self.devices = devices
    }

    public var description: String { "\(name) (\(vendor)), \(version), \(devices.count) device(s)" }
}

// MARK: - Device

/// CL_DEVICE_TYPE bits.
public struct OpenCLDeviceType: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let `default` = OpenCLDeviceType(rawValue: 1 << 0)
    public static let cpu = OpenCLDeviceType(rawValue: 1 << 1)
    public static let gpu = OpenCLDeviceType(rawValue: 1 << 2)
    public static let accelerator = OpenCLDeviceType(rawValue: 1 << 3)
    public static let custom = OpenCLDeviceType(rawValue: 1 << 4)

    public var description: String {
        let names: [(OpenCLDeviceType, String)] = [
            (.default, "DEFAULT"), (.cpu, "CPU"), (.gpu, "GPU"), (.accelerator, "ACCELERATOR"), (.custom, "CUSTOM"),
        ]
        let parts = names.filter { contains($0.0) }.map(\.1)
        return parts.isEmpty ? "NONE" : parts.joined(separator: "|")
    }
}

/// A device's floating-point capabilities (CL_DEVICE_SINGLE_FP_CONFIG / CL_DEVICE_DOUBLE_FP_CONFIG
/// bits, `cl_device_fp_config`).
///
/// Note for exactness: without `correctlyRoundedDivideSqrt`, single-precision `/` and `sqrt` in
/// OpenCL C may be off by up to 2.5 / 3 ulp; with it, programs must still be built with
/// `-cl-fp32-correctly-rounded-divide-sqrt` to get IEEE results. A device without `denorm` flushes
/// subnormals to zero.
public struct OpenCLFPConfig: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// CL_FP_DENORM: subnormal numbers are supported (not flushed to zero).
    public static let denorm = OpenCLFPConfig(rawValue: 1 << 0)
    /// CL_FP_INF_NAN: infinities and quiet NaNs are supported.
    public static let infNaN = OpenCLFPConfig(rawValue: 1 << 1)
    /// CL_FP_ROUND_TO_NEAREST: round to nearest even.
    public static let roundToNearest = OpenCLFPConfig(rawValue: 1 << 2)
    /// CL_FP_ROUND_TO_ZERO.
    public static let roundToZero = OpenCLFPConfig(rawValue: 1 << 3)
    /// CL_FP_ROUND_TO_INF: round to +∞ and −∞.
    public static let roundToInf = OpenCLFPConfig(rawValue: 1 << 4)
    /// CL_FP_FMA: IEEE 754-2008 fused multiply-add.
    public static let fma = OpenCLFPConfig(rawValue: 1 << 5)
    /// CL_FP_SOFT_FLOAT: basic operations are emulated in software.
    public static let softFloat = OpenCLFPConfig(rawValue: 1 << 6)
    /// CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT: divide and sqrt can be correctly rounded (single only).
    public static let correctlyRoundedDivideSqrt = OpenCLFPConfig(rawValue: 1 << 7)

    public var description: String {
        let names: [(OpenCLFPConfig, String)] = [
            (.denorm, "denorm"), (.infNaN, "infNaN"), (.roundToNearest, "roundToNearest"),
            (.roundToZero, "roundToZero"), (.roundToInf, "roundToInf"), (.fma, "fma"),
            (.softFloat, "softFloat"), (.correctlyRoundedDivideSqrt, "correctlyRoundedDivideSqrt"),
        ]
        let parts = names.filter { contains($0.0) }.map(\.1)
        return "[" + parts.joined(separator: ", ") + "]"
    }
}

/// One OpenCL device and its properties, read once when the platform is enumerated.
///
/// Equality and hashing compare the runtime's device id. Immutable and `Sendable`.
public struct OpenCLDevice: @unchecked Sendable, Hashable, CustomStringConvertible {
    let id: cl_device_id
    /// The name of the platform the device belongs to.
    public let platformName: String
    /// CL_DEVICE_NAME.
    public let name: String
    /// CL_DEVICE_VENDOR.
    public let vendor: String
    /// CL_DEVICE_VERSION, e.g. "OpenCL 3.0 PoCL ...".
    public let version: String
    /// CL_DRIVER_VERSION.
    public let driverVersion: String
    /// CL_DEVICE_OPENCL_C_VERSION, e.g. "OpenCL C 1.2 PoCL".
    public let openCLCVersion: String
    /// CL_DEVICE_TYPE.
    public let type: OpenCLDeviceType
    /// CL_DEVICE_AVAILABLE.
    public let isAvailable: Bool
    /// CL_DEVICE_MAX_COMPUTE_UNITS.
    public let maxComputeUnits: Int
    /// CL_DEVICE_MAX_WORK_GROUP_SIZE, in work-items.
    public let maxWorkGroupSize: Int
    /// CL_DEVICE_GLOBAL_MEM_SIZE, in bytes.
    public let globalMemSize: UInt64
    /// CL_DEVICE_MAX_MEM_ALLOC_SIZE: the largest single buffer, in bytes.
    public let maxMemAllocSize: UInt64
    /// CL_DEVICE_LOCAL_MEM_SIZE, in bytes.
    public let localMemSize: UInt64
    /// CL_DEVICE_SINGLE_FP_CONFIG.
    public let singleFPConfig: OpenCLFPConfig
    /// CL_DEVICE_DOUBLE_FP_CONFIG; empty when the device has no double precision.
    public let doubleFPConfig: OpenCLFPConfig
    /// CL_DEVICE_EXTENSIONS, split at spaces.
    public let extensions: [String]

    init(id: cl_device_id, platformName: String) throws(OpenCLError) {
        self.id = id
        self.platformName = platformName
        name = try deviceString(id, CL_DEVICE_NAME)
        vendor = try deviceString(id, CL_DEVICE_VENDOR)
        version = try deviceString(id, CL_DEVICE_VERSION)
        driverVersion = try deviceString(id, CL_DRIVER_VERSION)
        openCLCVersion = (try? deviceString(id, CL_DEVICE_OPENCL_C_VERSION)) ?? ""
        type = OpenCLDeviceType(rawValue: try deviceValue(id, CL_DEVICE_TYPE, as: cl_device_type.self))
        isAvailable = try deviceValue(id, CL_DEVICE_AVAILABLE, as: cl_bool.self) != 0
        maxComputeUnits = Int(try deviceValue(id, CL_DEVICE_MAX_COMPUTE_UNITS, as: cl_uint.self))
        maxWorkGroupSize = try deviceValue(id, CL_DEVICE_MAX_WORK_GROUP_SIZE, as: Int.self)
        globalMemSize = try deviceValue(id, CL_DEVICE_GLOBAL_MEM_SIZE, as: cl_ulong.self)
        maxMemAllocSize = try deviceValue(id, CL_DEVICE_MAX_MEM_ALLOC_SIZE, as: cl_ulong.self)
        localMemSize = try deviceValue(id, CL_DEVICE_LOCAL_MEM_SIZE, as: cl_ulong.self)
        singleFPConfig = OpenCLFPConfig(
            rawValue: try deviceValue(id, CL_DEVICE_SINGLE_FP_CONFIG, as: cl_device_fp_config.self))
        // A 1.0/1.1 device without fp64 may reject the query: treat as "no double precision".
        doubleFPConfig = OpenCLFPConfig(
            rawValue: (try? deviceValue(id, CL_DEVICE_DOUBLE_FP_CONFIG, as: cl_device_fp_config.self)) ?? 0)
        extensions = try deviceString(id, CL_DEVICE_EXTENSIONS).split(separator: " ").map(String.init)
    }

    public static func == (a: OpenCLDevice, b: OpenCLDevice) -> Bool { a.id == b.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }

    public var description: String {
        "\(name) (\(vendor), \(type), \(version), \(maxComputeUnits) CU, \(globalMemSize) B global; "
            + "fp32 \(singleFPConfig), fp64 \(doubleFPConfig))"
    }
}
