from django.urls import path

from . import cutoff_views, monitoring_views, views

app_name = "oversight"
urlpatterns = [
    path("audit/patients/<int:pk>/", views.patient_trail, name="trail"),
    path("audit/search/", views.trial_audit_search, name="audit_search"),
    path("reports/", views.report_index, name="reports"),
    path("reports/not-randomized/", views.not_randomized, name="not_randomized"),
    path("exports/", views.export_index, name="exports"),
    path("exports/jobs/", views.export_job_create, name="export_job_create"),
    path("exports/jobs/<int:job>/", views.export_job, name="export_job"),
    path("exports/jobs/<int:job>/file.csv", views.export_job_download, name="export_job_download"),
    path("exports/analysis.csv", views.export_analysis, name="export_analysis"),
    path("exports/analysis-with-arm.csv", views.export_analysis_with_arm, name="export_analysis_with_arm"),
    path("exports/analysis/dictionary/", views.data_dictionary, name="data_dictionary"),
    path("exports/analysis/dictionary.csv", views.data_dictionary_csv, name="data_dictionary_csv"),
    path("exports/<slug:table>.csv", views.export_table, name="export_table"),
    path("monitoring/", monitoring_views.monitoring_report, name="monitoring"),
    path("monitoring.csv", monitoring_views.monitoring_report_csv, name="monitoring_csv"),
    path("cutoffs/", cutoff_views.cutoff_list, name="cutoffs"),
    path("cutoffs/<int:pk>/", cutoff_views.cutoff_detail, name="cutoff"),
    path("cutoffs/<int:pk>/analysis.csv", cutoff_views.cutoff_snapshot, name="cutoff_snapshot"),
]
