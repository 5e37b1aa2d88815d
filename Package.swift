// swift-tools-version:6.1
import PackageDescription

/// C flags for every C target: IEEE arithmetic exactly as written (no contraction into FMA,
/// no fast-math), optimised even in debug builds so the test suite runs the real model quickly.
let strictC: [CSetting] = [.unsafeFlags(["-O2", "-ffp-contract=off", "-fno-fast-math"])]

let package = Package(
    name: "Lockstep",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Lockstep", targets: ["Lockstep"]),
        .library(name: "LockstepServer", targets: ["LockstepServer"]),
        .executable(name: "lockstep", targets: ["lockstep"]),
        .executable(name: "lockstep-verify", targets: ["lockstep-verify"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0", traits: []),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.34.1"),
    ],
    targets: [
        // C libraries (Debian packages named in `providers`), wrapped by LockstepNative.
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLibCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CGMP", pkgConfig: "gmp", providers: [.apt(["libgmp-dev"])]),
        // The CUDA driver API and NVRTC, loaded with dlopen at run time (no CUDA needed to build).
        .target(name: "CCUDALoader", cSettings: strictC, linkerSettings: [.linkedLibrary("dl")]),
        .systemLibrary(name: "COpenCL", pkgConfig: "OpenCL", providers: [.apt(["ocl-icd-opencl-dev", "opencl-headers"])]),

        // Safe Swift owners of the C handles (SHA-256 one message at a time and 16 in vector lanes,
        // GMP integers, BLAS, OpenCL platforms).
        .target(name: "LockstepNative", dependencies: ["COpenBLAS", "CLibCrypto", "CGMP", "COpenCL", "CCUDALoader", "CLockstepKernels"]),
        // The arithmetic contract: activation quantisation, exact dot products, ordered light ops,
        // the backend protocol and the reference backend.
        .target(name: "LockstepCore", dependencies: []),
        // C kernels of the `cpu` backend: run-time ISA dispatch (AVX-512 VNNI, AVX2, NEON, scalar);
        // also the 16-lane SHA-256 that hashes a trace's rows.
        .target(name: "CLockstepKernels", cSettings: strictC),
        // The `cpu` backend: threads and C kernels behind the Backend protocol.
        .target(name: "LockstepCPU", dependencies: ["LockstepCore", "CLockstepKernels"]),
        // The `blas` backend: exact products as dgemm on integer-valued binary64 slices.
        .target(name: "LockstepBLAS", dependencies: ["LockstepCore", "LockstepNative"]),
        // The `opencl` and `cuda` backends: one kernel source for both dialects.
        .target(name: "LockstepGPU", dependencies: ["LockstepCore", "LockstepNative"]),
        // Random operands and bit-for-bit comparison helpers shared by the backend tests.
        .target(name: "LockstepTestSupport", dependencies: ["LockstepCore", "LockstepModel"]),
        // GGUF v2/v3 reader (memory-mapped, every field checked) and writer.
        .target(name: "LockstepGGUF", dependencies: []),
        // Byte-level BPE and SentencePiece-style BPE tokenizers, chat templates.
        .target(name: "LockstepTokenizer", dependencies: ["LockstepGGUF"]),
        // The Llama model: weights, forward pass, KV cache, sampler, session, tiny-model generator.
        .target(name: "LockstepModel", dependencies: ["LockstepCore", "LockstepGGUF", "LockstepTokenizer", "LockstepNative"]),
        // Determinism test vectors: generator and runner of Vectors/ops and Vectors/models.
        .target(name: "LockstepVectors", dependencies: ["LockstepCore", "LockstepModel", "LockstepNative", "LockstepGGUF", "LockstepTokenizer", "LockstepTrace"]),
        // Committed traces: step digests, hash chain, Merkle tree and proofs, trace files,
        // signed commitments, node keys.
        .target(name: "LockstepTrace", dependencies: ["LockstepCore", "LockstepModel", "LockstepNative"]),
        // Verification protocols (§8): replay, spot-check, dispute with fraud proofs, Freivalds audit.
        .target(name: "LockstepVerify", dependencies: ["LockstepCore", "LockstepModel", "LockstepNative", "LockstepTrace", "CLockstepKernels"]),
        // Umbrella module an app imports.
        .target(name: "Lockstep", dependencies: ["LockstepCore", "LockstepCPU", "LockstepBLAS", "LockstepGPU", "LockstepGGUF", "LockstepTokenizer", "LockstepModel", "LockstepNative", "LockstepTrace", "LockstepVectors", "LockstepVerify"]),
        // The generating node (`lockstep serve`): the service, its HTTP interface on Hummingbird,
        // and the client that fetches from a node (`lockstep-verify --trace http://…`).
        // A product of its own, so that an app linking `Lockstep` does not build an HTTP server.
        .target(name: "LockstepServer", dependencies: [
            "LockstepCore", "LockstepModel", "LockstepNative", "LockstepTokenizer", "LockstepTrace",
            .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
        ]),
        // What the two command-line tools share (the progress line, the standard streams, terminal-safe
        // text); not part of the library.
        .target(name: "LockstepCommandLine", dependencies: ["LockstepNative"]),
        .executableTarget(name: "lockstep", dependencies: [
            "Lockstep", "LockstepServer", "LockstepCommandLine", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .executableTarget(name: "lockstep-verify", dependencies: [
            "Lockstep", "LockstepServer", "LockstepCommandLine", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "LockstepCoreTests", dependencies: ["LockstepCore"]),
        // Every op × shape × edge value × backend, byte for byte against the reference backend.
        .testTarget(name: "LockstepConformanceTests", dependencies: ["LockstepCore", "LockstepCPU", "LockstepBLAS", "LockstepGPU", "LockstepTestSupport"]),
        .testTarget(name: "LockstepGGUFTests", dependencies: ["LockstepGGUF", "LockstepTestSupport"]),
        .testTarget(name: "LockstepTokenizerTests", dependencies: ["LockstepTokenizer", "LockstepGGUF"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "LockstepBLASTests", dependencies: ["LockstepBLAS", "LockstepCore", "LockstepTestSupport"]),
        .testTarget(name: "LockstepGPUTests", dependencies: ["LockstepGPU", "LockstepCore", "LockstepNative", "LockstepTestSupport"]),
        .testTarget(name: "LockstepModelTests", dependencies: ["LockstepModel", "LockstepCore", "LockstepCPU", "LockstepBLAS", "LockstepGPU", "LockstepTestSupport"]),
        .testTarget(name: "LockstepNativeTests", dependencies: ["LockstepNative", "LockstepTestSupport"]),
        .testTarget(name: "LockstepCLITests", dependencies: ["Lockstep", "LockstepTestSupport"]),
        .testTarget(name: "LockstepTraceTests", dependencies: ["LockstepTrace", "Lockstep", "LockstepTestSupport"]),
        .testTarget(name: "LockstepVerifyTests", dependencies: ["LockstepVerify", "Lockstep", "LockstepTestSupport"]),
        .testTarget(name: "LockstepServerTests", dependencies: [
            "LockstepServer", "Lockstep", "LockstepTestSupport", .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
        ]),
        .testTarget(name: "LockstepVectorsTests", dependencies: ["LockstepVectors", "Lockstep", "LockstepTestSupport"]),
    ]
)
