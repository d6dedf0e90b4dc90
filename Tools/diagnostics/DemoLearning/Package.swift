// swift-tools-version:6.0
import PackageDescription
let package = Package(name: "DemoLearning",
  dependencies: [.package(name: "Sensorium", path: "../../..")],
  targets: [.executableTarget(name: "DemoLearning", dependencies: [.product(name: "Sensorium", package: "Sensorium")])])
