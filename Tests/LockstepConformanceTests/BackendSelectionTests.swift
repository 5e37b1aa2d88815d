import Foundation
import XCTest
import LockstepCore
import LockstepCPU

/// Choosing the instruction set: the default, `$LOCKSTEP_CPU_ISA`, and refusals.
final class BackendSelectionTests: XCTestCase {
    override func tearDown() { unsetenv("LOCKSTEP_CPU_ISA") }

    func testDefaultsAndAvailability() throws {
        XCTAssertTrue(CPUBackend.availableISAs.contains(.scalar))
        XCTAssertTrue(CPUBackend.availableISAs.contains(CPUISA.best))
        unsetenv("LOCKSTEP_CPU_ISA")
        let b = CPUBackend(threads: 2)
        XCTAssertEqual(b.name, "cpu")
        XCTAssertEqual(b.isa, CPUISA.best)
        XCTAssertEqual(b.threads, 2)
        for op in BackendOp.all { XCTAssertTrue(b.supports(op), "\(op)") }
        XCTAssertThrowsError(try CPUBackend.make(threads: 0))
        // A count past the limit is refused before any thread starts (it used to start threads
        // until the system refused, taking every other process's thread slots; past Int32 it trapped).
        for n in [CPUBackend.maxThreads + 1, 100_000, Int(Int32.max) + 1, Int.max] {
            XCTAssertThrowsError(try CPUBackend.make(threads: n)) { error in
                XCTAssertEqual("\(error)", "threads must be between 1 and \(CPUBackend.maxThreads), got \(n)")
            }
        }
        XCTAssertEqual(try CPUBackend.make(threads: 3).threads, 3)
        if let missing = CPUISA.allCases.first(where: { !$0.isAvailable }) {
            XCTAssertThrowsError(try CPUBackend.make(threads: 1, isa: missing))
        }
    }

    func testEnvironmentForcesAPath() throws {
        for isa in CPUBackend.availableISAs {
            setenv("LOCKSTEP_CPU_ISA", isa.rawValue, 1)
            XCTAssertEqual(try CPUBackend.make(threads: 1).isa, isa)
            XCTAssertEqual(CPUBackend(threads: 1).isa, isa)
        }
        // An explicit choice wins over the environment.
        setenv("LOCKSTEP_CPU_ISA", CPUISA.best.rawValue, 1)
        XCTAssertEqual(CPUBackend(threads: 1, isa: .scalar).isa, .scalar)
        setenv("LOCKSTEP_CPU_ISA", "avx1024", 1)
        XCTAssertThrowsError(try CPUBackend.make(threads: 1))
        if let missing = CPUISA.allCases.first(where: { !$0.isAvailable }) {
            setenv("LOCKSTEP_CPU_ISA", missing.rawValue, 1)
            XCTAssertThrowsError(try CPUBackend.make(threads: 1))
        }
        setenv("LOCKSTEP_CPU_ISA", "", 1)
        XCTAssertEqual(try CPUBackend.make(threads: 1).isa, CPUISA.best)
    }
}
