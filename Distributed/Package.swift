// swift-tools-version: 6.0
// Data-parallel training over MPI, as a package of its own: the SDK (the root package, by path)
// builds and tests without MPI; this package adds the MPI communicator and the `sensorium-mpi`
// tool (`mpiexec -n N sensorium-mpi train --distributed …`). Needs MPICH: apt-get install mpich libmpich-dev.
import PackageDescription

let package = Package(
    name: "SensoriumDistributed",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "SensoriumMPI", targets: ["SensoriumMPI"]),
        .executable(name: "sensorium-mpi", targets: ["SensoriumMPICLI"]),
    ],
    dependencies: [.package(name: "Sensorium", path: "..")],
    targets: [
        // MPICH's C API, with the handles and constants Swift cannot import exposed by the shim header.
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "mpich", providers: [.apt(["libmpich-dev"])]),
        .target(name: "SensoriumMPI", dependencies: [
            "CMPI", .product(name: "SensoriumTraining", package: "Sensorium"),
        ]),
        .executableTarget(name: "SensoriumMPICLI", dependencies: [
            "SensoriumMPI", .product(name: "SensoriumCommandLine", package: "Sensorium"),
            .product(name: "Sensorium", package: "Sensorium"),
        ]),
    ]
)
