// Public surface of point-in-time training sets, shared by the CLI, the serving Worker and programs.
export { decodeCsvCell, encodeCsvRecord, encodeCsvValue, parseCsv } from "./csv";
export { CONTENT_TYPES, DATASET_FORMATS, type DatasetFormat, datasetFormatOf, encodeHeader, encodeRows } from "./encode";
export { type FeaturePlan, planFeatures } from "./plan";
export { AS_OF_ORDER } from "./point-in-time-sql";
export {
  candidateDefinitions,
  DEFAULT_LABEL_COLUMN,
  ESTIMATORS,
  type FeatureScore,
  MAX_RECOMMEND_SPINE_ROWS,
  type Recommendation,
  type RecommendInput,
  recommendFeatures,
} from "./recommend";
export { parseEventTimestamp, parseSpineCsv, parseSpineJsonl, type Spine, type SpineRow, spineFromObjects } from "./spine";
export { type PgQueryable, type SqlRunner, sqlRunner } from "./sql-runner";
export {
  type DatasetRow,
  DEFAULT_CHUNK_ROWS,
  DEFAULT_JOIN_CHUNK_ROWS,
  EVENT_TIMESTAMP_SUFFIX,
  type FeatureSummary,
  getTrainingDataset,
  openTrainingDataset,
  type PreparedTrainingSet,
  prepareTrainingSet,
  TrainingDataset,
  type TrainingInput,
  type TrainingOptions,
  type TrainingProgress,
  type TrainingSummary,
} from "./training-dataset";
