export {
  AggregatedDataset,
  AggregationError,
  planAggregation,
  WARNINGS_ATTRIBUTE,
  type AggregationIssue,
  type AggregationMember,
  type AggregationPlan,
  type OpenedMember,
  type PlannedMember,
} from './aggregated-dataset';
