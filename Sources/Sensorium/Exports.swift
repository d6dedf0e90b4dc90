@_exported import SensoriumTensor
@_exported import SensoriumLayers
@_exported import SensoriumReadouts
@_exported import SensoriumData
@_exported import SensoriumMetrics
@_exported import SensoriumTraining
@_exported import Logging
